"""What a request is grounded in: the session's material and the passages chosen.

A :class:`Grounding` travels inside the provider brief
(:class:`~rtc_server.content.provider.LessonBrief`): the local composer
teaches from it, the prompt builder quotes its passages, and the events read
their citations against it.  ``hits`` are the passages ranked for this
request's topic or question, best first; ``ranker`` names what ranked them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .index import Hit, IndexedPassage, MaterialIndex

__all__ = ["Grounding"]


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
            "passages": [self.index.passages[h.index].label for h in self.hits],
        }

    def event_fields(self) -> dict[str, Any]:
        """For ``content.started``: which material and which passages were used."""
        return {
            "material": [{"id": m.id, "title": m.title} for m in self.index.materials],
            "passages": [self.index.passages[h.index].label for h in self.hits],
            "ranker": self.ranker,
            "matched": self.matched,
        }
