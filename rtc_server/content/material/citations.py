"""Citations of passages in generated text: ``[p3]`` or ``[p3, p7]`` (pure).

The local composer writes them and the model is asked to; both are read
back by the same functions, so the events that carry citations do not
depend on who wrote the text.  Labels the material does not have (a model
that cites ``[p99]``) are reported apart, never passed on as sources.
"""

from __future__ import annotations

import re
from typing import Any

from .index import MaterialIndex

__all__ = ["cite", "cited_labels", "section_citations", "sources"]

_CITATION = re.compile(r"\[\s*([pP]\d+(?:\s*[,;]\s*[pP]?\d+)*)\s*\]")
_LABEL = re.compile(r"[pP]?(\d+)")
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.M)


def cite(*labels: str) -> str:
    """The citation marker for ``labels`` (``"[p3, p7]"``); empty for none."""
    unique = list(dict.fromkeys(labels))
    return f"[{', '.join(unique)}]" if unique else ""


def cited_labels(text: str) -> list[str]:
    """Every label cited in ``text``, first citation first, each once."""
    out: dict[str, None] = {}
    for match in _CITATION.finditer(text):
        for number in _LABEL.findall(match.group(1)):
            out[f"p{int(number)}"] = None
    return list(out)


def sources(text: str, index: MaterialIndex) -> tuple[list[dict[str, Any]], list[str]]:
    """``(resolved sources, unknown labels)`` of the citations in ``text``."""
    known: list[dict[str, Any]] = []
    unknown: list[str] = []
    for label in cited_labels(text):
        source = index.source(label)
        if source is None:
            unknown.append(label)
        else:
            known.append(source)
    return known, unknown


def section_citations(text: str, index: MaterialIndex) -> list[dict[str, Any]]:
    """``[{"heading", "sources"}]`` for each ``## `` section that cites something."""
    out: list[dict[str, Any]] = []
    matches = list(_HEADING.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        labels = [lb for lb in cited_labels(text[match.end() : end]) if index.passage(lb)]
        if labels:
            out.append({"heading": match.group(1), "sources": labels})
    return out
