"""The teacher's material as plain data: :class:`Material` and its :class:`Passage` s.

A :class:`Material` is what the session stores (``as_dict`` / ``from_dict``
round-trip through JSON): the extracted text with pages separated by a form
feed (``\\f``, as ``pdftotext`` does), so page numbers survive storage
without keeping passages twice.  Passages are derived from the text by
:func:`~rtc_server.material.passages.split_passages`, which is
deterministic, so a passage id such as ``"p3"`` means the same passage every
time the same material is split.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["PAGE_BREAK", "Material", "MaterialKind", "Passage", "detect_language"]

MaterialKind = Literal["text", "markdown", "pdf"]
PAGE_BREAK = "\f"
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")
#: Share of letters that must be Hangul syllables for a text to count as Korean.
KOREAN_SHARE = 0.3


def detect_language(text: str) -> str:
    """``"ko"`` when Hangul makes up a good share of the letters, else ``"en"``.

    This reads the script, it does not guess: the only languages the
    composer frames text in are Korean and English, and the session's own
    language setting (when it has one) always wins over this.
    """
    sample = text[:20000]
    letters = len(_LETTER.findall(sample))
    if not letters:
        return "en"
    return "ko" if len(_HANGUL.findall(sample)) / letters >= KOREAN_SHARE else "en"


@dataclass(frozen=True, slots=True)
class Passage:
    """A paragraph-sized piece of a material, the unit of retrieval and citation."""

    id: str  # "p1", "p2", ... in document order
    text: str
    heading: str = ""  # the nearest heading above it ("" when none)
    page: int | None = None  # 1-based page for PDFs
    index: int = 0  # 0-based position in the material

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "heading": self.heading,
            "page": self.page,
            "index": self.index,
        }


@dataclass(frozen=True, slots=True)
class Material:
    """Extracted material: ``text`` holds pages separated by ``PAGE_BREAK``.

    ``size`` is the size of what the teacher gave (bytes of the file or of
    the UTF-8 text); ``created_at`` is Unix seconds.  ``language`` is derived
    from the text when not given; ``digest`` always is (it keys the caches of
    indexes and generated text, so it must follow the text).
    """

    id: str
    title: str
    kind: MaterialKind
    text: str
    pages: int
    size: int
    created_at: float
    language: str = ""
    digest: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # Derived once: the digest keys caches of indexes and generated text.
        if not self.language:
            object.__setattr__(self, "language", detect_language(self.text))
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:24]
        object.__setattr__(self, "digest", digest)

    @property
    def page_texts(self) -> list[str]:
        return self.text.split(PAGE_BREAK)

    def info(self) -> dict[str, Any]:
        """What a listing shows: everything but the text."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "pages": self.pages,
            "size": self.size,
            "chars": len(self.text),
            "created_at": self.created_at,
            "language": self.language,
            "digest": self.digest,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.info(), "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Material:
        kind = data["kind"]
        if kind not in ("text", "markdown", "pdf"):
            raise ValueError(f"unknown material kind {kind!r}")
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            kind=kind,
            text=str(data["text"]),
            pages=int(data["pages"]),
            size=int(data["size"]),
            created_at=float(data["created_at"]),
            language=str(data.get("language") or ""),
        )
