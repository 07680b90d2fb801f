"""A session's members that are connected to *this* process, and delivery to them.

A room subscribes to its session on the bus and, for each event, picks the
local connections in the event's audience. Named-group membership is session
state: it is loaded from the store when the room opens and then follows the
``group.updated`` events in the stream, so every process applies membership
changes at the same point in the sequence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from rtc_server.base.protocol import (
    CONNECTION_REPLACED,
    GROUP_OBSERVERS,
    GROUP_STUDENTS,
    GROUP_TEACHER,
    GROUP_UPDATED,
    Audience,
    Event,
)
from rtc_server.state.bus import EventBus, Unsubscribe
from rtc_server.state.store import SessionStore

from .connection import CLOSE_TAKEN_OVER, Connection

logger = logging.getLogger(__name__)

_ROLE_GROUP = {
    "teacher": GROUP_TEACHER,
    "admin": GROUP_TEACHER,
    "student": GROUP_STUDENTS,
    "observer": GROUP_OBSERVERS,
}


_BUILTIN = frozenset(_ROLE_GROUP.values())


def builtin_group_of(role: str) -> str:
    return _ROLE_GROUP[role]


class Room:
    def __init__(self, session_id: str, bus: EventBus, store: SessionStore) -> None:
        self.session_id = session_id
        self._bus = bus
        self._store = store
        self.connections: dict[str, Connection] = {}
        self._by_user: dict[str, set[Connection]] = {}
        # Built-in group -> its connections, so that the many events for the teacher
        # group (presence, answers, evaluations) do not scan the whole class.
        self._by_builtin: dict[str, set[Connection]] = {name: set() for name in _BUILTIN}
        self._groups: dict[str, frozenset[str]] = {}
        self._unsubscribe: Unsubscribe | None = None
        self.delivered = 0
        self.last_seq = 0  # the last event this room has routed

    async def open(self) -> None:
        # Subscribe first, then read the groups: the store is at least as new as any
        # group.updated event that arrives in between.
        self._unsubscribe = await self._bus.subscribe(self.session_id, self._on_event)
        record = await self._store.get(self.session_id)
        if record is not None:
            for name, members in record.groups.items():
                self._groups.setdefault(name, frozenset(members))

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def empty(self) -> bool:
        return not self.connections

    def add(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        self._by_user.setdefault(conn.user_id, set()).add(conn)
        self._by_builtin[_ROLE_GROUP[conn.role]].add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        self._by_builtin[_ROLE_GROUP[conn.role]].discard(conn)
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def user_connections(self, user_id: str) -> set[Connection]:
        return self._by_user.get(user_id, set())

    def group_members(self, name: str) -> frozenset[str]:
        return self._groups.get(name, frozenset())

    def groups_of(self, user_id: str, role: str) -> list[str]:
        named = [g for g, members in self._groups.items() if user_id in members]
        return [builtin_group_of(role), *sorted(named)]

    def recipients(self, event: Event) -> Iterable[Connection]:
        audience = event.audience
        if audience.kind == "session":
            return self.connections.values()
        if audience.kind == "user":
            return self._by_user.get(audience.name or "", ())
        name = audience.name or ""
        if name in _BUILTIN:
            return self._by_builtin[name]
        members = self._groups.get(name, frozenset())
        if len(members) < len(self._by_user):
            return [c for user in members for c in self._by_user.get(user, ())]
        return [c for c in self.connections.values() if c.user_id in members]

    def count(self, audience: Audience) -> int:
        """How many connections here an event to ``audience`` would go to."""
        if audience.kind == "session":
            return len(self.connections)
        if audience.kind == "user":
            return len(self._by_user.get(audience.name or "", ()))
        name = audience.name or ""
        if name in _BUILTIN:
            return len(self._by_builtin[name])
        return sum(len(self._by_user.get(u, ())) for u in self._groups.get(name, ()))

    def addressed_to(self, event: Event, conn: Connection) -> bool:
        audience = event.audience
        if audience.kind == "session":
            return True
        if audience.kind == "user":
            return audience.name == conn.user_id
        name = audience.name or ""
        if name in _BUILTIN:
            return _ROLE_GROUP[conn.role] == name
        return conn.user_id in self._groups.get(name, frozenset())

    def _on_event(self, event: Event) -> None:
        self.last_seq = max(self.last_seq, event.seq)
        if event.type == GROUP_UPDATED.name:
            self._apply_group(event)
        elif event.type == CONNECTION_REPLACED.name:
            self._close_replaced(event)
        for conn in self.recipients(event):
            conn.enqueue(event)
            self.delivered += 1

    def _close_replaced(self, event: Event) -> None:
        payload = json.loads(event.wire)["payload"]
        for conn in list(self.user_connections(event.audience.name or "")):
            if conn.resume_token_id == payload["token"] and conn.id != payload["by"]:
                conn.spawn(conn.close(CLOSE_TAKEN_OVER, "taken over by a newer connection"),
                           "taken over")

    def _apply_group(self, event: Event) -> None:
        payload = json.loads(event.wire)["payload"]
        name, members = payload["group"], payload["members"]
        if members:
            self._groups[name] = frozenset(members)
        else:
            self._groups.pop(name, None)
