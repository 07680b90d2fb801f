"""Choosing the passages a request needs: the :class:`Retriever` interface.

:class:`Bm25Retriever` (lexical, always available) is the default;
:class:`~rtc_server.content.material.embeddings.EmbeddingsRetriever` ranks by
embeddings when the OpenAI-compatible endpoint has an embeddings model and
falls back to BM25 when it does not answer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .grounding import Grounding
from .index import Hit, MaterialIndex

__all__ = ["DEFAULT_TOP_K", "Bm25Retriever", "Retriever", "ground", "opening"]

#: Passages ranked per request; the prompt budget may keep fewer.
DEFAULT_TOP_K = 6


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
