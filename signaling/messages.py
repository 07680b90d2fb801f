"""Client-to-server messages: typed models with a literal ``type``, validated at the boundary.

:func:`parse_client_message` turns raw bytes/text into one of the models or
raises a :class:`~signaling.exceptions.ProtocolError` that names what is
wrong. Everything past the boundary works on these validated objects.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .exceptions import MalformedMessage, MessageTooLarge, UnknownMessageType

PROTOCOL_VERSION = 1
MessageId = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class _Message(BaseModel):
    # Unknown fields are ignored so that newer clients can talk to older servers.
    model_config = ConfigDict(extra="ignore", frozen=True)
    id: MessageId | None = None


class Offer(_Message):
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1)]


class Answer(_Message):
    type: Literal["answer"]
    sdp: Annotated[str, Field(min_length=1)]


class Candidate(_Message):
    """A trickled ICE candidate; ``candidate`` empty or null means end of candidates."""

    type: Literal["candidate"]
    candidate: str | None = None
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


class Leave(_Message):
    type: Literal["leave"]


class TransportChoice(_Message):
    """Which transport carries this connection's events from now on."""

    type: Literal["transport"]
    events: Literal["websocket", "datachannel"]


class Replay(_Message):
    """Send again every event for this connection with a sequence number above ``after_seq``."""

    type: Literal["replay"]
    after_seq: Annotated[int, Field(ge=0)]


class Ping(_Message):
    type: Literal["ping"]
    t: float | None = None


class Target(BaseModel):
    """Exactly one of ``session`` (true), ``group`` or ``user``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    session: bool = False
    group: Name | None = None
    user: Name | None = None

    def model_post_init(self, __context: Any) -> None:
        chosen = int(self.session) + int(self.group is not None) + int(self.user is not None)
        if chosen != 1:
            raise ValueError("target needs exactly one of session, group, user")


class Chat(_Message):
    """A text message (and optional data) to the session, a group or a user."""

    type: Literal["message"]
    to: Target
    text: Annotated[str, Field(max_length=8000)] = ""
    data: dict[str, Any] | None = None


class GroupSet(_Message):
    """Put users into, or take them out of, a named group (breakout)."""

    type: Literal["group.set"]
    group: Name
    add: list[Name] = Field(default_factory=list, max_length=1000)
    remove: list[Name] = Field(default_factory=list, max_length=1000)


class SessionUpdate(_Message):
    type: Literal["session.update"]
    subject: Annotated[str, Field(max_length=200)] | None = None
    grade_level: Annotated[str, Field(max_length=50)] | None = None
    current_topic: Annotated[str, Field(max_length=500)] | None = None


class SessionEnd(_Message):
    type: Literal["session.end"]


ClientMessage = Annotated[
    Offer
    | Answer
    | Candidate
    | Leave
    | TransportChoice
    | Replay
    | Ping
    | Chat
    | GroupSet
    | SessionUpdate
    | SessionEnd,
    Field(discriminator="type"),
]

_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_KNOWN_TYPES: frozenset[str] = frozenset(
    m.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for m in (Offer, Answer, Candidate, Leave, TransportChoice, Replay, Ping, Chat,
              GroupSet, SessionUpdate, SessionEnd)
)


def known_types() -> frozenset[str]:
    return _KNOWN_TYPES


def decode_json(raw: str | bytes, *, max_bytes: int) -> dict[str, Any]:
    """Decode one JSON object, enforcing the size limit; errors name the problem."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise MessageTooLarge(f"message is {size} bytes; the limit is {max_bytes}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"message must be a JSON object, not {type(data).__name__}")
    return data


def message_id_of(data: dict[str, Any]) -> str | None:
    """The client's message id if it is usable, for replies to a message that failed."""
    mid = data.get("id")
    return mid if isinstance(mid, str) and 0 < len(mid) <= 64 else None


def parse_client_message(raw: str | bytes, *, max_bytes: int) -> ClientMessage:
    data = decode_json(raw, max_bytes=max_bytes)
    mtype = data.get("type")
    if not isinstance(mtype, str):
        raise MalformedMessage("message has no string field 'type'")
    if mtype not in _KNOWN_TYPES:
        raise UnknownMessageType(
            f"unknown message type {mtype!r}; known: {', '.join(sorted(_KNOWN_TYPES))}"
        )
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise MalformedMessage(f"bad {mtype!r} message: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"][1:] if p != "function-after") or "message"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
