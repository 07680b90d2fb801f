"""Lesson-plan skeletons and section tracking (pure, no I/O, no clock).

The planner decides the sections (type, minutes, difficulty, materials)
*before* any text is generated, so the plan always fits the minutes left no
matter what the model writes.  The provider then writes one ``## `` heading
per section in order, and :class:`SectionTracker` cuts the streamed text
back into sections as each one completes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rtc_server.ai.provider import Difficulty, SectionSpec

__all__ = [
    "HIGH_UNDERSTANDING",
    "LOW_UNDERSTANDING",
    "CompletedSection",
    "SectionTracker",
    "plan_sections",
    "understanding_from_responses",
]

LOW_UNDERSTANDING = 0.5
HIGH_UNDERSTANDING = 0.8
#: Confidence given to a response that does not state one.
DEFAULT_CONFIDENCE = 0.5

# (type, title, share of the time, materials), in lesson order.
_LOW = (
    ("review", "Review the basics", 0.30, ("whiteboard", "worked examples")),
    ("guided_practice", "Guided practice, step by step", 0.35, ("practice sheet",)),
    ("check", "Quick check for understanding", 0.15, ("exit questions",)),
    ("wrap_up", "Wrap-up and recap", 0.20, ()),
)
_MID = (
    ("recap", "Quick recap", 0.15, ()),
    ("explanation", "New idea explained", 0.35, ("whiteboard",)),
    ("practice", "Practice", 0.35, ("practice sheet",)),
    ("wrap_up", "Wrap-up", 0.15, ("exit questions",)),
)
_HIGH = (
    ("explanation", "Going deeper", 0.30, ("whiteboard",)),
    ("challenge", "Challenge problems", 0.45, ("challenge cards",)),
    ("wrap_up", "Share and reflect", 0.25, ()),
)
# When minutes are too few for every section, keep these first.
_PRIORITY = ("guided_practice", "explanation", "practice", "review", "challenge", "wrap_up")


def understanding_from_responses(responses: Sequence[tuple[bool, float | None]]) -> float | None:
    """Confidence-weighted share of correct answers, 0..1 (None if no data).

    A confident wrong answer lowers the score more than a hesitant one: each
    response weighs ``0.5 + confidence/2``.
    """
    if not responses:
        return None
    total = 0.0
    score = 0.0
    for correct, confidence in responses:
        c = DEFAULT_CONFIDENCE if confidence is None else min(max(confidence, 0.0), 1.0)
        weight = 0.5 + c / 2
        total += weight
        if correct:
            score += weight
    return score / total


def _difficulty(understanding: float | None) -> Difficulty:
    if understanding is None:
        return "intermediate"
    if understanding < LOW_UNDERSTANDING:
        return "beginner"
    if understanding >= HIGH_UNDERSTANDING:
        return "advanced"
    return "intermediate"


def plan_sections(minutes_remaining: int, understanding: float | None) -> tuple[SectionSpec, ...]:
    """Sections whose minutes sum to at most ``minutes_remaining`` (each >= 1).

    Low understanding selects review and guided practice at beginner level;
    high understanding selects challenge work.
    """
    if minutes_remaining < 1:
        return ()
    difficulty = _difficulty(understanding)
    template = {"beginner": _LOW, "intermediate": _MID, "advanced": _HIGH}[difficulty]
    rows = list(template)
    while len(rows) > minutes_remaining:
        drop = min(rows, key=lambda r: -_PRIORITY.index(r[0]) if r[0] in _PRIORITY else -99)
        rows.remove(drop)
    share_total = sum(r[2] for r in rows)
    exact = [minutes_remaining * r[2] / share_total for r in rows]
    minutes = [max(1, int(x)) for x in exact]
    # Largest remainder, then trim from the biggest if the floor of 1 overshot.
    order = sorted(range(len(rows)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    for i in order:
        if sum(minutes) >= minutes_remaining:
            break
        minutes[i] += 1
    while sum(minutes) > minutes_remaining:
        i = max(range(len(rows)), key=lambda j: minutes[j])
        minutes[i] -= 1
    return tuple(
        SectionSpec(
            type=kind,
            title=title,
            estimated_minutes=m,
            difficulty=difficulty,
            materials=materials,
        )
        for (kind, title, _, materials), m in zip(rows, minutes, strict=True)
    )


_HEADING = re.compile(r"^## +.*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class CompletedSection:
    index: int
    spec: SectionSpec
    heading: str
    content: str


class SectionTracker:
    """Cuts streamed plan text into sections at ``## `` headings.

    A section is complete when the next ``## `` heading has fully arrived
    (its line ended) or at :meth:`finish`.  Text before the first heading is
    ignored; headings beyond the planned sections are folded into the last.
    """

    def __init__(self, specs: Sequence[SectionSpec]) -> None:
        self._specs = tuple(specs)
        self._text = ""
        self._emitted = 0

    def feed(self, text: str) -> list[CompletedSection]:
        self._text += text
        starts = self._heading_starts(complete_lines_only=True)
        return self._emit(starts, final=False)

    def finish(self) -> list[CompletedSection]:
        """Completes the remaining sections; ones the text never reached are empty."""
        starts = self._heading_starts(complete_lines_only=False)
        out = self._emit(starts, final=True)
        while self._emitted < len(self._specs):
            spec = self._specs[self._emitted]
            out.append(CompletedSection(self._emitted, spec, spec.title, ""))
            self._emitted += 1
        return out

    def _heading_starts(self, *, complete_lines_only: bool) -> list[tuple[int, int]]:
        spans = []
        for m in _HEADING.finditer(self._text):
            if complete_lines_only and "\n" not in self._text[m.end() : m.end() + 1]:
                continue
            spans.append((m.start(), m.end()))
        return spans

    def _emit(self, spans: list[tuple[int, int]], *, final: bool) -> list[CompletedSection]:
        if not self._specs:
            return []
        out: list[CompletedSection] = []
        last = len(self._specs) - 1
        while self._emitted <= last and self._emitted < len(spans):
            i = self._emitted
            if i == last:
                if not final:
                    break
                end = len(self._text)
            elif i + 1 < len(spans):
                end = spans[i + 1][0]
            elif final:
                end = len(self._text)
            else:
                break
            start, heading_end = spans[i]
            heading = self._text[start:heading_end].lstrip("#").strip()
            content = self._text[heading_end:end].strip()
            out.append(CompletedSection(i, self._specs[i], heading, content))
            self._emitted += 1
        return out
