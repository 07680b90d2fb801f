"""Client messages of the content feature (see docs/protocol.md, "AI lesson content")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rtc_server.base.messages import ClientMessageBase, Target


class ContentRequestMessage(ClientMessageBase):
    """Staff: generate content (``request.kind``: lesson, plan, adapt, personalized, visual)."""

    type: Literal["content.request"]
    request: dict[str, Any]
    to: Target = Field(default_factory=lambda: Target(session=True))


class ContentStop(ClientMessageBase):
    """Staff: stop a running generation; the class gets ``content.stopped``."""

    type: Literal["content.stop"]
    generation_id: str = Field(min_length=1, max_length=64)


class Confused(ClientMessageBase):
    """Student: "I don't understand" (optionally what, and about which generation: the
    content in view); may trigger a supplement."""

    type: Literal["content.confused"]
    detail: str = Field(default="", max_length=500)
    generation_id: str | None = Field(default=None, min_length=1, max_length=64)
