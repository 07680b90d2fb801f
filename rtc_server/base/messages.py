"""Client-to-server messages: typed models with a literal ``type``, validated at the boundary.

:class:`MessageRegistry` turns raw bytes/text into one of the registered models
or raises a :class:`~rtc_server.base.exceptions.ProtocolError` that names what
is wrong. Everything past the boundary works on these validated objects. The
core's own messages are here; each feature declares its own in its
``messages.py`` and the dispatcher registers them when the feature is installed.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .exceptions import MalformedMessage, MessageTooLarge, ProtocolError, UnknownMessageType
from .protocol import Audience

MessageId = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class ClientMessageBase(BaseModel):
    """Base of every client message model: a literal ``type`` and an optional ``id``."""

    # Unknown fields are ignored so that newer clients can talk to older servers.
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str
    id: MessageId | None = None


class SdpOffer(ClientMessageBase):
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1)]


class SdpAnswer(ClientMessageBase):
    type: Literal["answer"]
    sdp: Annotated[str, Field(min_length=1)]


class Candidate(ClientMessageBase):
    """A trickled ICE candidate; ``candidate`` empty or null means end of candidates."""

    type: Literal["candidate"]
    candidate: str | None = None
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None


class Leave(ClientMessageBase):
    type: Literal["leave"]


class TransportChoice(ClientMessageBase):
    """Which transport carries this connection's events from now on."""

    type: Literal["transport"]
    events: Literal["websocket", "datachannel"]


class Replay(ClientMessageBase):
    """Send again every event for this connection with a sequence number above ``after_seq``."""

    type: Literal["replay"]
    after_seq: Annotated[int, Field(ge=0)]


class Ping(ClientMessageBase):
    """``rtt_ms``: the round trip the client measured with its previous ping, if any;
    ``last_seq``: the last stream seq it processed (what a lost data channel resends after)."""

    type: Literal["ping"]
    t: float | None = None
    rtt_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    last_seq: Annotated[int, Field(ge=0, le=2**53)] | None = None


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

    def audience(self) -> Audience:
        """The audience this validated target names."""
        if self.session:
            return Audience.session()
        if self.group:
            return Audience.group(self.group)
        return Audience.user(self.user or "")


class GroupSet(ClientMessageBase):
    """Put users into, or take them out of, a named group (breakout)."""

    type: Literal["group.set"]
    group: Name
    add: list[Name] = Field(default_factory=list, max_length=1000)
    remove: list[Name] = Field(default_factory=list, max_length=1000)


class SessionUpdate(ClientMessageBase):
    type: Literal["session.update"]
    subject: Annotated[str, Field(max_length=200)] | None = None
    grade_level: Annotated[str, Field(max_length=50)] | None = None
    current_topic: Annotated[str, Field(max_length=500)] | None = None
    language: Annotated[str, Field(max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
                        ] | None = None
    planned_minutes: Annotated[int, Field(ge=1, le=600)] | None = None


class SessionEnd(ClientMessageBase):
    type: Literal["session.end"]


class ParticipantRemove(ClientMessageBase):
    """Staff: take ``user`` out of the class (their connections close; joins are refused)."""

    type: Literal["participant.remove"]
    user: Name


CORE_MESSAGES: tuple[type[ClientMessageBase], ...] = (
    SdpOffer, SdpAnswer, Candidate, Leave, TransportChoice, Replay, Ping, GroupSet,
    SessionUpdate, SessionEnd, ParticipantRemove,
)


def message_type(model: type[ClientMessageBase]) -> str:
    """The literal ``type`` a message model accepts."""
    args = get_args(model.model_fields["type"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{model.__name__}.type must be a Literal of one string")
    return args[0]


class MessageRegistry:
    """Message models by ``type``. Features register their own models next to the core ones."""

    def __init__(self, models: tuple[type[ClientMessageBase], ...] = CORE_MESSAGES) -> None:
        self._models: dict[str, type[ClientMessageBase]] = {}
        for model in models:
            self.register(model)

    def register(self, model: type[ClientMessageBase]) -> str:
        name = message_type(model)
        if name in self._models and self._models[name] is not model:
            raise ValueError(f"message type {name!r} is registered twice")
        self._models[name] = model
        return name

    def known_types(self) -> frozenset[str]:
        return frozenset(self._models)

    def parse(self, raw: str | bytes, *, max_bytes: int) -> ClientMessageBase:
        """Decode and validate one client message; errors name what is wrong."""
        data = decode_json(raw, max_bytes=max_bytes)
        mtype = data.get("type")
        if not isinstance(mtype, str):
            raise MalformedMessage("message has no string field 'type'")
        model = self._models.get(mtype)
        if model is None:
            raise UnknownMessageType(
                f"unknown message type {mtype!r}; known: {', '.join(sorted(self._models))}"
            )
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise MalformedMessage(f"bad {mtype!r} message: {_describe(exc)}") from exc


_core = MessageRegistry()


def known_types() -> frozenset[str]:
    return _core.known_types()


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


_HEAD_ID = re.compile(r'"id"\s*:\s*"([^"\\]{1,64})"')


def peek_message_id(raw: str | bytes, *, max_bytes: int) -> str | None:
    """The id of a message that cannot be accepted (invalid, too large, rate-limited),
    so that the error reply names it and the client knows what to resend."""
    try:
        return message_id_of(decode_json(raw, max_bytes=max_bytes))
    except ProtocolError:
        # Too large or not JSON: look for an id near the start without parsing it all.
        head = raw[:512] if isinstance(raw, str) else raw[:512].decode("utf-8", "replace")
        match = _HEAD_ID.search(head)
        return match.group(1) if match else None


def parse_client_message(raw: str | bytes, *, max_bytes: int) -> ClientMessageBase:
    """Parse with the core message types only."""
    return _core.parse(raw, max_bytes=max_bytes)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"] if p != "function-after") or "message"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
