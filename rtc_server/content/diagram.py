"""SVG diagrams drawn without a model: a concept map or a process/timeline (pure).

* Concept map: the requested subject in the middle, labels around it (the
  material's key terms for that subject, or the request's own words), and a
  line between two labels for each sentence of the material that uses both
  (thicker for more), so the map shows how the material connects them.
* Process / timeline: when the passage that matches the request is a
  sequence (numbered steps, order words, years), its steps in order, left to
  right, with arrows; each box is labelled with the key terms of its step.

All text is XML-escaped, wrapped by display width (a Hangul syllable counts
as two Latin letters) and drawn with fonts that have Hangul.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from rtc_server.material.grounding import Grounding
from rtc_server.material.keyterms import find_term
from rtc_server.material.outline import SequenceStep, find_sequence
from rtc_server.material.tokens import tokenize

__all__ = [
    "FONT_FAMILY",
    "concept_map_svg",
    "cooccurrence",
    "matching_sequence",
    "sequence_svg",
    "step_labels",
    "wrap",
]

FONT_FAMILY = "'Noto Sans CJK KR','Noto Sans KR','NanumGothic','Malgun Gothic',sans-serif"
WIDTH = 640
HEIGHT = 480
STEPS_PER_ROW = 4


def _units(ch: str) -> int:
    return 2 if ord(ch) >= 0x1100 else 1


def wrap(text: str, width: int, lines: int) -> list[str]:
    """Lines of at most ``width`` display units; the last ends in "…" if cut."""
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if sum(map(_units, candidate)) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while sum(map(_units, current)) > width:  # one word wider than a line
            cut = 0
            while sum(map(_units, current[: cut + 1])) <= width - 1:
                cut += 1
            out.append(current[:cut] + "…")
            current = current[cut:]
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1].rstrip("…")[: max(1, len(out[-1]) - 1)] + "…"
    return out


def _text(x: float, y: float, text: str, *, size: int, width: int, lines: int = 2,
          bold: bool = False) -> str:
    rows = wrap(text, width, lines)
    top = y - (len(rows) - 1) * size * 0.6
    weight = ' font-weight="bold"' if bold else ""
    spans = "".join(
        f'<tspan x="{x:.0f}" y="{top + i * size * 1.2 + size * 0.35:.0f}">{escape(r)}</tspan>'
        for i, r in enumerate(rows)
    )
    return f'<text font-size="{size}"{weight} text-anchor="middle">{spans}</text>'


def _frame(title: str, footer: str) -> tuple[str, str]:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family={quoteattr(FONT_FAMILY)} role="img">'
        f"<title>{escape(title)}</title>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>'
    )
    tail = (
        f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 12}" font-size="12" fill="#666" '
        f'text-anchor="middle">{escape(footer)}</text></svg>'
    )
    return head, tail


def cooccurrence(grounding: Grounding, labels: Sequence[str]) -> dict[tuple[int, int], int]:
    """Sentences (in the matching passages) that use both labels, per pair of labels."""
    index = grounding.index
    by_label = {t.label: t for t in index.key_terms}
    scope = [s for h in grounding.hits for s in index.passages[h.index].sentences]
    sets: list[set[int]] = []
    for label in labels:
        term = by_label.get(label)
        found = set()
        if term is not None:
            found = {s for s in scope if find_term(index.sentences[s].tokens, term.words)}
        sets.append(found)
    return {
        (i, j): len(sets[i] & sets[j])
        for i in range(len(labels))
        for j in range(i + 1, len(labels))
        if sets[i] & sets[j]
    }


def concept_map_svg(subject: str, labels: Sequence[str], title: str, footer: str,
                    links: dict[tuple[int, int], int] | None = None) -> str:
    head, tail = _frame(title, footer)
    cx, cy, r = WIDTH / 2, HEIGHT / 2 + 10, 175
    points = []
    for i in range(len(labels)):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(labels), 1)
        points.append((cx + r * math.cos(angle), cy + r * 0.72 * math.sin(angle)))
    parts = [head]
    for (i, j), count in sorted((links or {}).items()):
        (x1, y1), (x2, y2) = points[i], points[j]
        parts.append(
            f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" stroke="#9bb0c9" '
            f'stroke-width="{min(1 + count, 5)}" stroke-dasharray="6 4"/>'
        )
    for x, y in points:
        parts.append(
            f'<line x1="{cx:.0f}" y1="{cy:.0f}" x2="{x:.0f}" y2="{y:.0f}" stroke="#7a8aa0" '
            'stroke-width="2"/>'
        )
    for (x, y), label in zip(points, labels, strict=True):
        parts.append(
            f'<ellipse cx="{x:.0f}" cy="{y:.0f}" rx="76" ry="30" fill="#e8f0fb" '
            f'stroke="#3b6ea8"/>{_text(x, y, label, size=14, width=18)}'
        )
    parts.append(
        f'<ellipse cx="{cx:.0f}" cy="{cy:.0f}" rx="112" ry="42" fill="#fff4d6" stroke="#b8860b" '
        f'stroke-width="2"/>{_text(cx, cy, subject, size=19, width=20, bold=True)}'
    )
    parts.append(tail)
    return "".join(parts)


def step_labels(grounding: Grounding, steps: Sequence[SequenceStep], subject: str) -> list[str]:
    """Each step's box text: its own key terms (not the subject's words, not terms in
    most steps), else its opening words."""
    index = grounding.index
    own = {t.term for t in tokenize(subject)}
    in_step = [
        [t for t in index.key_terms if find_term(tokenize(step.text), t.words)] for step in steps
    ]
    common = {
        t.key
        for terms in in_step
        for t in terms
        if sum(t in other for other in in_step) * 2 > len(steps)
    }
    labels = []
    for step, terms in zip(steps, in_step, strict=True):
        found = [t.label for t in terms if t.key not in common and not set(t.words) <= own]
        labels.append(", ".join(found[:2]) if found else " ".join(step.text.split()[:5]))
    return labels


def sequence_svg(kind: str, subject: str, steps: Sequence[SequenceStep], grounding: Grounding,
                 title: str, footer: str) -> str:
    head, tail = _frame(title, footer)
    parts = [head, _text(WIDTH / 2, 40, subject, size=20, width=44, lines=1, bold=True)]
    steps = list(steps)[: 2 * STEPS_PER_ROW]
    labels = step_labels(grounding, steps, subject)
    per_row = min(STEPS_PER_ROW, len(steps))
    box_w, box_h, gap = 128, 96, 28
    left = (WIDTH - (per_row * box_w + (per_row - 1) * gap)) / 2
    for i, step in enumerate(steps):
        row, col = divmod(i, STEPS_PER_ROW)
        x = left + col * (box_w + gap)
        y = 90 + row * (box_h + 70)
        marker = step.marker if kind == "timeline" else str(i + 1)
        parts.append(
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{box_h}" rx="10" '
            'fill="#e8f0fb" stroke="#3b6ea8"/>'
            + _text(x + box_w / 2, y + 20, marker, size=15, width=16, lines=1, bold=True)
            + _text(x + box_w / 2, y + 58, labels[i], size=13, width=16, lines=3)
        )
        if i + 1 < len(steps):
            if col + 1 < STEPS_PER_ROW:
                x1, y1, x2, y2 = x + box_w, y + box_h / 2, x + box_w + gap, y + box_h / 2
            else:  # down to the next row
                x1, y1, x2, y2 = x + box_w / 2, y + box_h, left + box_w / 2, y + box_h + 70
            parts.append(
                f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2 - 4:.0f}" y2="{y2:.0f}" '
                'stroke="#7a8aa0" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    parts.insert(1, '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
                    'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
                    'fill="#7a8aa0"/></marker></defs>')
    parts.append(tail)
    return "".join(parts)


_SEQUENCE_WORDS = frozenset(
    "step steps stage stages order sequence process cycle timeline history 순서 과정 단계 순환 "
    "연표 역사".split()
)


def matching_sequence(
    grounding: Grounding, description: str
) -> tuple[str, list[SequenceStep]] | None:
    """The sequence to draw: the best-matching passage when it is one, or, when the
    request asks for steps, a process or a timeline, one of the three best."""
    if not grounding.matched or not grounding.hits:
        return None
    asks = bool({t.term for t in tokenize(description)} & _SEQUENCE_WORDS)
    for hit in grounding.hits[: 3 if asks else 1]:
        found = find_sequence(grounding.index, hit.index)
        if found is not None:
            return found
    return None
