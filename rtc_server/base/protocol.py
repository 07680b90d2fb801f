"""The wire vocabulary: audiences, typed event types, and the one envelope encoder.

A *stream event* belongs to a session: it has a ``seq`` assigned exactly once
by the event bus (:mod:`rtc_server.state.bus`), is logged, and can be
replayed. A *reply* answers one connection (an SDP answer, an error, an ack)
and has ``seq: null``; it is not part of the stream and is never replayed.

Every outbound event has an :class:`EventType`, declared in the catalogue of
whoever publishes it (the core's below, each feature's ``events.py``); nothing
publishes a bare string. Envelopes are encoded here, once per event: both bus
implementations build them with :func:`envelope_parts`, so an event reads the
same whichever bus carried it, and every recipient is handed the same string.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

PROTOCOL_VERSION = 1

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

    @classmethod
    def teachers(cls) -> Audience:
        return cls("group", GROUP_TEACHER)

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

    @classmethod
    def from_parts(cls, kind: str, name: str) -> Audience:
        """From the (kind, name) pair a bus stores beside a logged event."""
        if kind == "session":
            return cls.session()
        if kind == "group":
            return cls.group(name)
        return cls.user(name)


@dataclass(frozen=True, slots=True)
class EventType:
    """One outbound event type: its wire name, whom it usually goes to, what it says."""

    name: str
    audience: str
    doc: str

    def __str__(self) -> str:
        return self.name


class EventCatalogue:
    """The event types one part of the server publishes (the core's, or a feature's)."""

    def __init__(self, owner: str, types: Iterable[EventType]) -> None:
        self.owner = owner
        self._types = {t.name: t for t in types}

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> frozenset[str]:
        return frozenset(self._types)


# -- the core's event types ------------------------------------------------------------------

SESSION_UPDATED = EventType("session.updated", "session", "subject/grade/topic changed")
SESSION_ENDED = EventType("session.ended", "session",
                          "the class ended; every connection closes after it (4010)")
GROUP_UPDATED = EventType("group.updated", "session",
                          "a named group's members; rooms apply it in stream order")
PRESENCE = EventType("presence", "group teacher", "joined / left / dropped / back / removed")
PARTICIPANT_REMOVED = EventType("participant.removed", "user",
                                "the teacher removed you; the connection closes (4003)")
SERVER_LOAD = EventType("server.load", "group teacher", "load-shedding step changed")
CONNECTION_REPLACED = EventType("connection.replaced", "user",
                                "a resume token was used again: its older connection closes")

CORE_EVENTS = EventCatalogue("core", (SESSION_UPDATED, SESSION_ENDED, GROUP_UPDATED, PRESENCE,
                                      PARTICIPANT_REMOVED, SERVER_LOAD, CONNECTION_REPLACED))


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


def dumps(payload: Any) -> str:
    """Compact JSON of a payload; refuses NaN/Infinity (not JSON, browsers reject them)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def envelope_parts(
    *, session_id: str, ts_ms: int, type: str, audience: Audience, payload_json: str
) -> tuple[str, str]:
    """The envelope around an already-serialised payload, split where the seq goes.

    ``head + str(seq) + tail`` is the event on the wire. The Redis bus sends the two
    parts to its script, which inserts the seq it assigns; the in-memory bus joins them
    itself. Field order: v, type, seq, ts, session, to, payload.
    """
    head = f'{{"v":{PROTOCOL_VERSION},"type":{json.dumps(type)},"seq":'
    to = json.dumps(audience.to_json(), separators=(",", ":"), ensure_ascii=False)
    tail = (f',"ts":{ts_ms},"session":{json.dumps(session_id, ensure_ascii=False)},'
            f'"to":{to},"payload":{payload_json}}}')
    return head, tail


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


def error_reply(session_id: str, code: str, message: str, *, re: str | None = None,
                **details: Any) -> str:
    """An ``error`` reply; ``details`` add machine-readable fields (``retry_after_ms``)."""
    return encode_reply("error", {"code": code, "message": message, **details},
                        session_id=session_id, re=re)
