"""The classroom service: sessions, membership, presence and routing.

Handlers (HTTP and WebSocket) call this; it checks roles, changes state
through the :class:`~rtc_server.state.store.SessionStore` and emits events through
the :class:`~rtc_server.state.bus.EventBus`. It keeps one :class:`Room` per session
that has connections in this process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rtc_server.base.access import require_staff
from rtc_server.base.exceptions import InvalidRequest, SessionEnded, SessionNotFound
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import (
    BUILTIN_GROUPS,
    GROUP_UPDATED,
    PRESENCE,
    SESSION_ENDED,
    SESSION_UPDATED,
    Audience,
    Event,
    EventType,
    now_ms,
)
from rtc_server.config import Config
from rtc_server.state.bus import EventBus
from rtc_server.state.store import EDITABLE_FIELDS, SessionRecord, SessionStore

from .connection import Connection
from .feature import Features
from .room import Room

logger = logging.getLogger(__name__)


class Classroom:
    def __init__(self, config: Config, bus: EventBus, store: SessionStore,
                 features: Features | None = None) -> None:
        self.config = config
        self.bus = bus
        self.store = store
        self.features = features if features is not None else Features()
        self.rooms: dict[str, Room] = {}
        self._room_locks: dict[str, asyncio.Lock] = {}

    # -- sessions ------------------------------------------------------------------------------

    async def create_session(
        self, *, session_id: str, teacher_id: str, subject: str = "", grade_level: str = "",
        current_topic: str = "", ai_context: dict[str, Any] | None = None,
    ) -> SessionRecord:
        record = SessionRecord(
            id=session_id, teacher_id=teacher_id, subject=subject, grade_level=grade_level,
            current_topic=current_topic, ai_context=dict(ai_context or {}),
        )
        created = await self.store.create(record)
        logger.info("Session(%s) created by %s", session_id, teacher_id)
        return created

    async def get_session(self, session_id: str) -> SessionRecord:
        record = await self.store.get(session_id)
        if record is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return record

    async def active_session(self, session_id: str) -> SessionRecord:
        record = await self.get_session(session_id)
        if record.status != "active":
            raise SessionEnded(f"session {session_id!r} has ended")
        return record

    async def require_active(self, session_id: str) -> None:
        """Like :meth:`active_session` without reading the record (hot paths)."""
        status = await self.store.status(session_id)
        if status is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if status != "active":
            raise SessionEnded(f"session {session_id!r} has ended")

    async def update_session(self, who: Identity, changes: dict[str, Any]) -> SessionRecord:
        require_staff(who, "change the session")
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes or set(changes) - EDITABLE_FIELDS:
            raise InvalidRequest(f"give one or more of {sorted(EDITABLE_FIELDS)}")
        await self.active_session(who.session_id)
        record = await self.store.update(who.session_id, changes)
        await self.publish(who.session_id, Audience.session(), SESSION_UPDATED,
                           {"by": who.user_id, "changes": changes})
        return record

    async def end_session(self, who: Identity) -> SessionRecord:
        require_staff(who, "end the session")
        await self.active_session(who.session_id)
        record = await self.store.end(who.session_id)
        await self.publish(who.session_id, Audience.session(), SESSION_ENDED,
                           {"by": who.user_id})
        # Every connection closes itself once session.ended has been sent to it.
        return record

    # -- routing -------------------------------------------------------------------------------

    async def publish(
        self, session_id: str, audience: Audience, type: EventType, payload: dict[str, Any]
    ) -> Event:
        """Sequence, log and fan out one event of a declared type."""
        return await self.bus.publish(session_id, audience, type.name, payload)

    async def is_staff_user(self, session_id: str, user_id: str) -> bool:
        """Whether ``user_id`` teaches (or administers) the session."""
        record = await self.store.get(session_id)
        if record is None:
            return False
        part = record.participants.get(user_id)
        return record.teacher_id == user_id or (part is not None and part.role in
                                                 ("teacher", "admin"))

    async def group_exists(self, session_id: str, name: str) -> bool:
        """A built-in group, or a named group with members."""
        if name in BUILTIN_GROUPS:
            return True
        room = self.rooms.get(session_id)
        # The room's view of the groups is kept current by group.updated events; only
        # when this process has no room does the store need reading.
        if room is not None:
            return bool(room.group_members(name))
        return bool((await self.get_session(session_id)).groups.get(name))

    async def set_group(
        self, who: Identity, group: str, add: list[str], remove: list[str]
    ) -> list[str]:
        require_staff(who, "change groups")
        if group in BUILTIN_GROUPS:
            raise InvalidRequest(f"group {group!r} is built in; its members follow from roles")
        if not add and not remove:
            raise InvalidRequest("give users to add or remove")
        await self.active_session(who.session_id)
        members = await self.store.set_group(who.session_id, group, add=add, remove=remove)
        await self.publish(who.session_id, Audience.session(), GROUP_UPDATED,
                           {"group": group, "members": members, "by": who.user_id})
        return members

    # -- connections ---------------------------------------------------------------------------

    async def _room(self, session_id: str) -> Room:
        room = self.rooms.get(session_id)
        if room is not None:
            return room
        lock = self._room_locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(session_id)
            if room is None:
                room = Room(session_id, self.bus, self.store)
                await room.open()
                self.rooms[session_id] = room
        return room

    async def join(self, conn: Connection, *, resume_after: int | None = None) -> dict[str, Any]:
        """Register a connection; return the welcome payload. Events flow from here on.

        With ``resume_after`` (the last seq the client saw), everything addressed to it
        since then is queued first, in order; when the log no longer reaches back that
        far the welcome carries a ``snapshot`` of the state instead. Without it, events
        addressed to this user personally (or to a named group of theirs) while they were
        away are delivered.
        """
        who = conn.identity
        record = await self.active_session(who.session_id)
        room = await self._room(who.session_id)
        conn.hold()
        room.add(conn)
        part = await self.store.change_connections(
            who.session_id, user_id=who.user_id, name=who.name, role=who.role, delta=1,
            now_ms=now_ms(),
        )
        state = "back" if resume_after is not None else "joined"
        last_seq = await self.bus.last_seq(who.session_id)
        start_seq, extra = await self._catch_up(conn, room, resume_after, last_seq)
        conn.release()
        await self.publish(who.session_id, Audience.teachers(), PRESENCE,
                           {"user": who.user_id, "name": who.name, "role": who.role,
                            "state": state, "connections": part.connections})
        welcome: dict[str, Any] = {
            "connection_id": conn.id,
            "user": {"id": who.user_id, "name": who.name, "role": who.role},
            "session": record.to_json(),
            "groups": room.groups_of(who.user_id, who.role),
            "last_seq": start_seq,
            **extra,
            "ice_servers": [s.to_json() for s in self.config.ice_servers],
            "limits": {"max_message_bytes": self.config.max_message_bytes,
                       "messages_per_s": self.config.rate_messages_per_s,
                       "burst": self.config.rate_burst},
        }
        if not who.is_staff:
            welcome["session"].pop("participants", None)
        await self.features.joined(conn)
        return welcome

    async def _catch_up(
        self, conn: Connection, room: Room, resume_after: int | None, last_seq: int
    ) -> tuple[int, dict[str, Any]]:
        """Queue what the joining connection missed; return (start seq, welcome extras)."""
        who = conn.identity
        if resume_after is not None:
            resume_after = min(resume_after, last_seq)
            events, complete = await self._backlog(conn, room, resume_after, personal=False)
            logger.debug("%r resumes after %d: %d logged events up to %d, %s", conn,
                         resume_after, len(events), last_seq,
                         "complete" if complete else "log too short")
            if complete:
                conn.send_backlog(events)
                return resume_after, {"resumed": {"after_seq": resume_after,
                                                  "replayed": len(events)}}
            conn.skip_to(last_seq)
            return last_seq, {"snapshot": await self.snapshot(who, last_seq)}
        cursor = await self.store.get_cursor(who.session_id, who.user_id)
        if 0 < cursor < last_seq:
            events, _ = await self._backlog(conn, room, cursor, personal=True)
            if events:
                conn.send_backlog(events)
                return events[0].seq - 1, {"delivered_while_away": len(events)}
        return last_seq, {}

    async def _backlog(
        self, conn: Connection, room: Room, after_seq: int, *, personal: bool
    ) -> tuple[list[Event], bool]:
        """Logged events after ``after_seq`` addressed to ``conn`` (only personally, if asked)."""
        out: list[Event] = []
        complete = True
        cursor = after_seq
        while True:
            backlog = await self.bus.read_after(conn.session_id, cursor, 1000)
            complete = complete and backlog.complete
            for event in backlog.events:
                if personal and not (event.audience.kind == "user" or (
                        event.audience.kind == "group"
                        and event.audience.name not in BUILTIN_GROUPS)):
                    continue
                if room.addressed_to(event, conn):
                    out.append(event)
            if not backlog.events or backlog.events[-1].seq >= backlog.last_seq:
                return out, complete
            cursor = backlog.events[-1].seq

    async def snapshot(self, who: Identity, at_seq: int) -> dict[str, Any]:
        """The state a client needs when the log cannot fill its gap."""
        record = await self.get_session(who.session_id)
        data: dict[str, Any] = {"at_seq": at_seq, "session": record.to_json()}
        if not who.is_staff:
            data["session"].pop("participants", None)
        data.update(await self.features.snapshot(who))
        return data

    async def leave(self, conn: Connection) -> None:
        room = self.rooms.get(conn.session_id)
        if room is None or conn.id not in room.connections:
            return
        room.remove(conn)
        await self.features.left(conn)
        position = conn.stream_position(room.last_seq)
        who = conn.identity
        try:
            await self.store.set_cursor(who.session_id, who.user_id, position)
            part = await self.store.change_connections(
                who.session_id, user_id=who.user_id, name=who.name, role=who.role, delta=-1,
                now_ms=now_ms(),
            )
            state = "left" if conn.left_cleanly else "dropped"
            await self.publish(who.session_id, Audience.teachers(), PRESENCE,
                               {"user": who.user_id, "name": who.name, "role": who.role,
                                "state": state, "connections": part.connections})
        except SessionNotFound:
            pass
        if room.empty:
            room.close()
            self.rooms.pop(conn.session_id, None)

    async def replay(self, conn: Connection, after_seq: int) -> bool:
        """Queue the logged events for ``conn`` after ``after_seq``; False if the log is short."""
        room = self.rooms.get(conn.session_id)
        if room is None:
            return False
        events, complete = await self._backlog(conn, room, after_seq, personal=False)
        conn.send_backlog(events)
        return complete

    async def close(self) -> None:
        for room in list(self.rooms.values()):
            await asyncio.gather(*(c.close(1001, "server shutting down")
                                   for c in list(room.connections.values())),
                                 return_exceptions=True)
            room.close()
        self.rooms.clear()
