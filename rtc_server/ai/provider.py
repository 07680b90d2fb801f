"""Provider interfaces: streaming text and one-shot images.

A provider never sees pydantic request models or session objects: the
service turns a validated request into a :class:`TextRequest` (chat messages
for model-backed providers plus a structured :class:`LessonBrief` for the
local composer) and consumes :class:`TextDelta` values.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from rtc_server.material.grounding import Grounding

__all__ = [
    "ChatMessage",
    "ImageProvider",
    "ImageRequest",
    "ImageResult",
    "LessonBrief",
    "SectionSpec",
    "TextDelta",
    "TextProvider",
    "TextRequest",
    "Usage",
]

Difficulty = Literal["beginner", "intermediate", "advanced"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """One lesson-plan section decided by the planner before any text exists."""

    type: str
    title: str
    estimated_minutes: int
    difficulty: Difficulty
    materials: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "estimated_minutes": self.estimated_minutes,
            "difficulty": self.difficulty,
            "materials": list(self.materials),
        }


@dataclass(frozen=True, slots=True)
class LessonBrief:
    """Structured description of what to write (used by the local composer).

    ``grounding`` is the session's material with the passages ranked for this
    request (None when the session has no material); ``language`` is the
    framing language ("en" or "ko"), decided from the session and the
    material by :func:`~rtc_server.content.prompts.build_text_request`.
    """

    kind: str
    topic: str
    prompt: str = ""
    subject: str = ""
    grade: str = ""
    difficulty: Difficulty = "intermediate"
    learning_style: str = "mixed"
    minutes: int | None = None
    covered_topics: tuple[str, ...] = ()
    source_text: str = ""
    trigger: str = ""
    details: str = ""
    understanding: float | None = None
    sections: tuple[SectionSpec, ...] = ()
    grounding: Grounding | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class TextRequest:
    brief: LessonBrief
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float = 0.7


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of generated text; the last delta may carry only ``usage``."""

    text: str = ""
    usage: Usage | None = None


@runtime_checkable
class TextProvider(Protocol):
    """Streams text for a request.

    Implementations retry only before the first delta, raise
    :class:`~rtc_server.ai.exceptions.GenerationFailed` on failure, and
    close their upstream when the iterator is closed or cancelled.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None: ...

    def stream(self, request: TextRequest) -> AsyncIterator[TextDelta]: ...


@dataclass(frozen=True, slots=True)
class ImageRequest:
    """``description`` is the subject of the picture; ``grounding`` the session's
    material ranked for it (the local provider draws the material's terms)."""

    description: str
    style: str = "diagram"
    topic: str = ""
    key_terms: tuple[str, ...] = ()
    size: str = "1024x1024"
    grounding: Grounding | None = None


@dataclass(frozen=True, slots=True)
class ImageResult:
    """Either a remote ``url`` or inline ``data`` (a data URL)."""

    provider: str
    mime: str
    url: str | None = None
    data: str | None = None
    alt: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ImageProvider(Protocol):
    @property
    def name(self) -> str: ...

    async def generate(self, request: ImageRequest) -> ImageResult: ...
