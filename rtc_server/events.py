"""The wire envelope: every server-to-client message, serialised once.

A *stream event* belongs to a session: it has a ``seq`` assigned exactly once
by the :class:`~rtc_server.bus.EventBus`, is logged, and can be replayed.
A *reply* answers one connection (an SDP answer, an error, an ack) and has
``seq: null``; it is not part of the stream and is never replayed.

Both are encoded to a ``str`` here, once; every recipient is handed the same
string object.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from signaling.messages import PROTOCOL_VERSION

AudienceKind = Literal["session", "group", "user"]

# Built-in groups every session has; membership follows from the role.
GROUP_TEACHER = "teacher"  # teachers and admins
GROUP_STUDENTS = "students"
GROUP_OBSERVERS = "observers"
BUILTIN_GROUPS = frozenset({GROUP_TEACHER, GROUP_STUDENTS, GROUP_OBSERVERS})


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an event is for: the whole session, one group, or one user (all their connections)."""

    kind: AudienceKind
    name: str | None = None

    @classmethod
    def session(cls) -> Audience:
        return cls("session")

    @classmethod
    def group(cls, name: str) -> Audience:
        return cls("group", name)

    @classmethod
    def user(cls, user_id: str) -> Audience:
        return cls("user", user_id)

    def to_json(self) -> dict[str, Any]:
        if self.kind == "session":
            return {"session": True}
        return {self.kind: self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        if data.get("session"):
            return cls.session()
        if "group" in data:
            return cls.group(str(data["group"]))
        return cls.user(str(data["user"]))


@dataclass(frozen=True, slots=True)
class Event:
    """A stream event after sequencing: ``wire`` is the envelope every recipient gets."""

    session_id: str
    seq: int
    ts_ms: int
    type: str
    audience: Audience
    wire: str


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_event(
    *, session_id: str, seq: int, ts_ms: int, type: str, audience: Audience, payload_json: str
) -> str:
    """Build the envelope around an already-serialised payload (no second dumps)."""
    head = json.dumps(
        {"v": PROTOCOL_VERSION, "type": type, "seq": seq, "ts": ts_ms, "session": session_id,
         "to": audience.to_json()},
        separators=(",", ":"),
    )
    return f'{head[:-1]},"payload":{payload_json}}}'


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def encode_reply(
    type: str, payload: dict[str, Any], *, session_id: str, re: str | None = None
) -> str:
    body: dict[str, Any] = {
        "v": PROTOCOL_VERSION, "type": type, "seq": None, "ts": now_ms(), "session": session_id,
    }
    if re is not None:
        body["re"] = re
    body["payload"] = payload
    return dumps(body)


def error_reply(session_id: str, code: str, message: str, *, re: str | None = None) -> str:
    return encode_reply("error", {"code": code, "message": message}, session_id=session_id, re=re)
