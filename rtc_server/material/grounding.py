"""What a request is grounded in, how its passages are chosen, how citations resolve.

A :class:`Grounding` travels inside the provider brief
(:class:`~rtc_server.content.provider.LessonBrief`): the local composer
teaches from it, the prompt builder quotes its passages, and the events read
their citations against it.  ``hits`` are the passages ranked for this
request's topic or question, best first; ``ranker`` names what ranked them.

A :class:`Retriever` makes one: :class:`Bm25Retriever` (lexical, always
available) is the default;
:class:`~rtc_server.material.embeddings.EmbeddingsRetriever` ranks by
embeddings when the endpoint has an embeddings model.

Citations are ``[p3]`` or ``[p3, p7]``.  The local composer writes them and
the model is asked to; both are read back by the same functions, so the
events that carry citations do not depend on who wrote the text.  Labels the
material does not have (a model that cites ``[p99]``) are reported apart,
never passed on as sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .index import Hit, IndexedPassage, MaterialIndex

__all__ = [
    "DEFAULT_TOP_K",
    "Bm25Retriever",
    "Grounding",
    "Retriever",
    "cite",
    "cited_labels",
    "ground",
    "opening",
    "section_citations",
    "sources",
]

#: Passages ranked per request; the prompt budget may keep fewer.
DEFAULT_TOP_K = 6


@dataclass(frozen=True, slots=True)
class Grounding:
    index: MaterialIndex
    hits: tuple[Hit, ...]
    ranker: str = "bm25"
    query: str = ""
    matched: bool = True  # False: nothing matched the query; hits are the opening passages

    @property
    def passages(self) -> list[IndexedPassage]:
        """The ranked passages, best first."""
        return [self.index.passages[h.index] for h in self.hits]

    @property
    def language(self) -> str:
        return self.index.language

    def cache_fields(self) -> dict[str, Any]:
        """What changes the generated text: the material and the passages chosen."""
        return {
            "material": self.index.digest,
            # The titles are written into the text (the local composer's disclosure).
            "titles": [m.title for m in self.index.materials],
            "passages": [self.index.passages[h.index].label for h in self.hits],
        }

    def event_fields(self) -> dict[str, Any]:
        """For ``content.started``: which material and which passages were used.

        An untitled material (the class's unpublished material has its title
        removed before it is indexed) is named by its id only."""
        return {
            "material": [{"id": m.id, "title": m.title} if m.title else {"id": m.id}
                         for m in self.index.materials],
            "passages": [self.index.passages[h.index].label for h in self.hits],
            "ranker": self.ranker,
            "matched": self.matched,
        }


@runtime_checkable
class Retriever(Protocol):
    @property
    def name(self) -> str: ...

    async def ground(self, index: MaterialIndex, query: str, k: int) -> Grounding:
        """The ``k`` passages most relevant to ``query``, best first."""
        ...


def ground(index: MaterialIndex, query: str, k: int = DEFAULT_TOP_K) -> Grounding:
    """BM25 grounding; with no matching passage, the material from its start.

    A request whose words the material never uses (a topic the reading does
    not cover) still gets the reading's opening passages, marked
    ``matched=False``, and the composer says that the topic was not found.
    """
    hits = index.search(query, k) if query.strip() else []
    if not hits:
        return opening(index, query, k)
    return Grounding(index=index, hits=tuple(hits), ranker="bm25", query=query)


def opening(index: MaterialIndex, query: str, k: int, ranker: str = "bm25") -> Grounding:
    """The first ``k`` passages, for a query the material does not match."""
    hits = tuple(Hit(i, 0.0) for i in range(min(k, len(index.passages))))
    return Grounding(index=index, hits=hits, ranker=ranker, query=query, matched=False)


class Bm25Retriever:
    @property
    def name(self) -> str:
        return "bm25"

    async def ground(self, index: MaterialIndex, query: str, k: int) -> Grounding:
        return ground(index, query, k)


# -- citations ------------------------------------------------------------

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
