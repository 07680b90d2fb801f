"""Section outline and sequences (steps, timelines) of a material (pure).

The outline follows the material's own headings: consecutive passages under
one heading form a section, led by its most central sentence.  A material
without headings is cut into sections of a few passages, each named after
its own strongest key term, never after anything the material does not say.

A passage is a *sequence* when it lists three or more numbered steps, or
three or more sentences start with order words ("first", "then", "finally",
"먼저", "다음으로") or name years: then visuals draw it as a process or
timeline and the composer walks through it step by step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .index import MaterialIndex
from .summary import summarise

__all__ = ["OutlineSection", "SequenceStep", "find_sequence", "outline"]

#: Passages per section when the material has no headings.
PASSAGES_PER_SECTION = 3
MIN_STEPS = 3
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+(.+)$")
_ORDER_WORDS = re.compile(
    r"^(first|firstly|second|secondly|third|then|next|after that|afterwards|finally|lastly|"
    r"먼저|우선|첫째|둘째|셋째|다음으로|그다음|그 다음|그 후|이후|마지막으로)\b",
    re.I,
)
_YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?:년)?(?!\d)")


@dataclass(frozen=True, slots=True)
class OutlineSection:
    title: str
    passages: tuple[int, ...]
    lead: int | None  # sentence index of the section's most central sentence
    from_heading: bool


@dataclass(frozen=True, slots=True)
class SequenceStep:
    marker: str  # "1", "1850", "then"
    text: str  # the step's sentence, word for word


def outline(index: MaterialIndex, passages: Sequence[int] | None = None) -> list[OutlineSection]:
    """Sections over ``passages`` (all of them by default), in document order."""
    scope = sorted(range(len(index.passages)) if passages is None else set(passages))
    groups: list[tuple[str, list[int]]] = []
    for p in scope:
        heading = index.passages[p].heading
        if groups and groups[-1][0] == heading and (
            heading or len(groups[-1][1]) < PASSAGES_PER_SECTION
        ):
            groups[-1][1].append(p)
        else:
            groups.append((heading, [p]))
    sections: list[OutlineSection] = []
    for heading, members in groups:
        title = heading
        if not title:
            terms = index.terms_in(members, limit=1)
            title = terms[0].label if terms else index.passages[members[0]].label
        sentence_ids = [s for p in members for s in index.passages[p].sentences]
        best = summarise(
            [index.sentences[s].text for s in sentence_ids],
            [index.sentences[s].terms for s in sentence_ids],
            [index.sentences[s].position for s in sentence_ids],
            count=1,
        )
        lead = sentence_ids[best[0]] if best else None
        sections.append(OutlineSection(title, tuple(members), lead, bool(heading)))
    return sections


def find_sequence(index: MaterialIndex, passage: int) -> tuple[str, list[SequenceStep]] | None:
    """``("process" | "timeline", steps)`` when the passage is a sequence, else None."""
    text = index.passages[passage].text
    numbered = [m for m in (_NUMBERED.match(ln) for ln in text.split("\n")) if m is not None]
    if len(numbered) >= MIN_STEPS:
        steps = [SequenceStep(m.group(1), m.group(2).strip()) for m in numbered]
        return "process", steps
    sentences = [index.sentences[s].text for s in index.passages[passage].sentences]
    dated = [(m.group(1), s) for s in sentences if (m := _YEAR.search(s)) is not None]
    years = [int(y) for y, _ in dated]
    if len(dated) >= MIN_STEPS and years == sorted(years):
        return "timeline", [SequenceStep(y, s) for y, s in dated]
    ordered = [(m.group(1), s) for s in sentences if (m := _ORDER_WORDS.match(s)) is not None]
    if len(ordered) >= MIN_STEPS:
        return "process", [SequenceStep(w.lower(), s) for w, s in ordered]
    return None
