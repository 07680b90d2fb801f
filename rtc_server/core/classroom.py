"""The classroom service: sessions, membership, presence and routing.

Handlers (HTTP and WebSocket) call this; it checks roles, changes state
through the :class:`~rtc_server.state.store.SessionStore` and emits events through
the :class:`~rtc_server.state.bus.EventBus`. It keeps one :class:`Room` per session
that has connections in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from rtc_server.base.access import require_admin, require_staff
from rtc_server.base.exceptions import (
    CredentialRevoked,
    InvalidRequest,
    PermissionDenied,
    ServiceUnavailable,
    SessionEnded,
    SessionNotFound,
)
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import (
    BUILTIN_GROUPS,
    CONNECTION_REPLACED,
    GROUP_UPDATED,
    PARTICIPANT_REMOVED,
    PRESENCE,
    SESSION_ENDED,
    SESSION_UPDATED,
    Audience,
    Event,
    EventType,
    encode_reply,
    now_ms,
)
from rtc_server.base.ratelimit import TokenBucket
from rtc_server.config import Config
from rtc_server.state.bus import EventBus
from rtc_server.state.store import EDITABLE_FIELDS, SessionRecord, SessionStore

from .admission import Admission
from .connection import CLOSE_GOING_AWAY, CLOSE_RESYNC, Connection
from .delivery_latency import DeliveryLatency
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
        #: Publish-to-transport delay of this process's sends (connections record into it).
        self.latency = DeliveryLatency()
        self.joins = 0
        self.resumes = 0
        self.closing = False  # shutting down: joins are refused
        #: This process's load-shedding status (``LoadMonitor.status``), set by the services:
        #: staff get it in their welcome so that it shows before the first change.
        self.load_status: Callable[[], dict[str, Any]] | None = None
        #: Joins and WebRTC set-ups run a bounded number at a time; bursts queue.
        self.joins_admission = Admission("joins", concurrent=config.join_concurrency,
                                         queue_max=config.join_queue_max)
        self.peer_admission = Admission("WebRTC set-ups",
                                        concurrent=config.peer_setup_concurrency,
                                        queue_max=config.join_queue_max)
        # The last record seen of each session with connections here: what a Redis that
        # lost its data gets back (see handle_reset).
        self._records: dict[str, SessionRecord] = {}
        # Per user (in this process): one message budget for all of their connections, and
        # for students a budget of what may enter the session's log (others' replay window).
        self._buckets: dict[tuple[str, str], tuple[TokenBucket, TokenBucket]] = {}

    # -- sessions ------------------------------------------------------------------------------

    async def create_session(
        self, *, session_id: str, teacher_id: str, subject: str = "", grade_level: str = "",
        current_topic: str = "", ai_context: dict[str, Any] | None = None,
        language: str = "", planned_minutes: int = 0, join_code: bool = False,
    ) -> SessionRecord:
        """A new class; with ``join_code`` it gets a short code students join with."""
        record = SessionRecord(
            id=session_id, teacher_id=teacher_id, subject=subject, grade_level=grade_level,
            current_topic=current_topic, ai_context=dict(ai_context or {}), language=language,
            planned_minutes=planned_minutes,
        )
        created = await self.store.create(record)
        self._records[session_id] = created
        if join_code:
            created.join_code = await self.store.assign_join_code(session_id)
        logger.info("Session(%s) created by %s", session_id, teacher_id)
        return created

    async def session_for_code(self, code: str) -> SessionRecord:
        """The active class a join code names (codes are case-insensitive)."""
        session_id = await self.store.session_for_code(code.strip().upper())
        if session_id is None:
            raise SessionNotFound(f"no class has the code {code.strip()!r}")
        record = await self.get_session(session_id, history=False)
        if record.status != "active":
            raise SessionEnded(f"the class {record.subject or session_id!r} has ended")
        return record

    async def get_session(self, session_id: str, *, history: bool = True,
                          participants: bool = False) -> SessionRecord:
        record = await self.store.get(session_id, history=history, participants=participants)
        if record is not None and session_id in self.rooms:
            self._records[session_id] = record
        if record is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return record

    async def active_session(self, session_id: str, *, history: bool = True) -> SessionRecord:
        record = await self.get_session(session_id, history=history)
        if record.status != "active":
            raise SessionEnded(f"session {session_id!r} has ended")
        return record

    async def require_active(self, session_id: str) -> None:
        """Like :meth:`active_session` without reading the record (hot paths)."""
        status = await self.store.status(session_id)
        if status is None and session_id in self._records and session_id in self.rooms:
            # Connected here, yet unknown to the store: it lost its data (a Redis restart
            # the reader has not reported yet). Restore now rather than refuse the class.
            await self.handle_reset()
            status = await self.store.status(session_id)
        if status is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if status != "active":
            raise SessionEnded(f"session {session_id!r} has ended")

    async def reopen_session(self, who: Identity) -> SessionRecord:
        """Admin (or the API): an ended class is active again; earlier tokens stop working."""
        require_admin(who, "reopen a class")
        record = await self.get_session(who.session_id, history=False)
        if record.status != "ended":
            raise InvalidRequest(f"session {who.session_id!r} is not ended")
        reopened = await self.store.reopen(who.session_id, now_ms())
        logger.info("Session(%s) reopened by %s", who.session_id, who.user_id)
        return reopened

    async def check_credential(self, who: Identity, record: SessionRecord | None = None
                               ) -> None:
        """Refuse a token issued before the class was reopened (CredentialRevoked)."""
        if who.is_system:
            return
        if record is None:
            record = await self.get_session(who.session_id, history=False)
        if record.tokens_after_ms and who.issued_at * 1000 < record.tokens_after_ms - 1000:
            raise CredentialRevoked("this link was issued before the class was reopened; "
                                    "ask the teacher for a new one")

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
        part = await self.store.get_participant(session_id, user_id)
        if part is not None:
            return part.role in ("teacher", "admin")
        record = await self.store.get(session_id, history=False)
        return record is not None and record.teacher_id == user_id

    async def remove_participant(self, who: Identity, user_id: str) -> None:
        """Staff: take a user out of the class; their connections close, joins are refused."""
        require_staff(who, "remove someone from the class")
        await self.require_active(who.session_id)
        if user_id == who.user_id:
            raise InvalidRequest("you cannot remove yourself; end the session instead")
        part = await self.store.remove_participant(who.session_id, user_id)
        # The user's connections, in every process, close after this event (4003).
        await self.publish(who.session_id, Audience.user(user_id), PARTICIPANT_REMOVED,
                           {"user": user_id, "by": who.user_id})
        await self.publish(who.session_id, Audience.teachers(), PRESENCE,
                           {"user": user_id, "name": part.name, "role": part.role,
                            "state": "removed", "connections": part.connections,
                            "device": part.device})

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

    async def join(self, conn: Connection, *, resume_after: int | None = None,
                   snapshot: bool = True) -> dict[str, Any]:
        """Register a connection; return the welcome payload. Events flow from here on.

        With ``resume_after`` (the last seq the client saw), everything addressed to it
        since then is queued first, in order; when the log no longer reaches back that
        far the welcome carries a ``snapshot`` of the state instead. Without it (a new
        page, a late joiner) the welcome carries the ``snapshot`` of the lesson so far
        (unless ``snapshot`` is False: bots), and events addressed to this user
        personally (or to a named group of theirs) while they were away are delivered.

        Costs O(1) in the class size (the participant alone is read and written), except
        for staff, whose welcome lists every participant.
        """
        who = conn.identity
        sid = who.session_id
        if self.closing:
            raise ServiceUnavailable("the server is restarting; reconnect in a moment")
        await self.require_active(sid)
        await self.check_credential(who)
        known = await self.store.get_participant(sid, who.user_id)
        if known is not None and known.removed:
            raise PermissionDenied("the teacher removed you from this class")
        room = await self._room(sid)
        conn.bucket = self._buckets_of(conn)[0]
        conn.hold()
        room.add(conn)
        conn.backlog_source = lambda after: self._backlog(conn, room, after, personal=False)
        try:
            part = await self.store.change_connections(
                sid, user_id=who.user_id, name=who.name, role=who.role, delta=1,
                now_ms=now_ms(), device=conn.device,
            )
            state = "back" if resume_after is not None else "joined"
            last_seq = await self.bus.last_seq(sid)
            start_seq, extra = await self._catch_up(conn, room, resume_after, last_seq)
            if snapshot and resume_after is None:
                extra["snapshot"] = await self.snapshot(who, start_seq)
            record = await self.store.get(sid, history=False, participants=who.is_staff)
        except BaseException:
            room.remove(conn)
            raise
        finally:
            conn.release()
        if record is None:
            raise SessionNotFound(f"session {sid!r} does not exist")
        self._records[sid] = record
        self.joins += 1
        self.resumes += resume_after is not None
        conn.acked_seq = start_seq
        await self.publish(sid, Audience.teachers(), PRESENCE,
                           {"user": who.user_id, "name": who.name, "role": who.role,
                            "state": state, "connections": part.connections,
                            "device": part.device})
        welcome: dict[str, Any] = {
            "connection_id": conn.id,
            "user": {"id": who.user_id, "name": who.name, "role": who.role},
            "session": record.to_json(),
            "groups": room.groups_of(who.user_id, who.role),
            "last_seq": start_seq,
            **extra,
            "shared_state": "ok" if self.bus.healthy else "unreachable",
            "ice_servers": [s.to_json() for s in self.config.ice_servers],
            "limits": {"max_message_bytes": self.config.max_message_bytes,
                       "messages_per_s": self.config.rate_messages_per_s,
                       "burst": self.config.rate_burst},
        }
        if not who.is_staff:
            welcome["session"].pop("participants", None)
        elif self.load_status is not None:
            welcome["server_load"] = self.load_status()
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
        """The state a client rebuilds from (a new page, or a gap the log cannot fill)."""
        record = await self.get_session(who.session_id, history=False,
                                        participants=who.is_staff)
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
                                "state": state, "connections": part.connections,
                                "device": part.device})
        except SessionNotFound:
            pass
        if not room.user_connections(conn.user_id):
            self._buckets.pop((conn.session_id, conn.user_id), None)
        if room.empty:
            room.close()
            self.rooms.pop(conn.session_id, None)
            self._records.pop(conn.session_id, None)

    async def replay(self, conn: Connection, after_seq: int) -> bool:
        """Queue the logged events for ``conn`` after ``after_seq``; False if the log is short."""
        room = self.rooms.get(conn.session_id)
        if room is None:
            return False
        events, complete = await self._backlog(conn, room, after_seq, personal=False)
        conn.send_backlog(events)
        return complete

    def _buckets_of(self, conn: Connection) -> tuple[TokenBucket, TokenBucket]:
        key = (conn.session_id, conn.user_id)
        buckets = self._buckets.get(key)
        if buckets is None:
            now = time.monotonic()
            config = self.config
            buckets = self._buckets[key] = (
                TokenBucket(rate_per_s=config.rate_messages_per_s, burst=config.rate_burst,
                            now_s=now),
                TokenBucket(rate_per_s=config.student_log_per_s, burst=config.student_log_burst,
                            now_s=now))
        return buckets

    def take_log_quota(self, conn: Connection) -> float:
        """A student's message that will enter the session log: 0.0 if within their quota,
        else the seconds until it would be (the message is refused)."""
        bucket = self._buckets_of(conn)[1]
        return 0.0 if bucket.take(time.monotonic()) else bucket.retry_after_s()

    async def handle_reset(self) -> None:
        """Redis came back without its data: restore what this process knows, resync clients.

        Each session with connections here gets its record back (as last seen) and its
        local participants' presence; its counter continues after the highest seq seen
        here (no seq is ever used twice) with a reset mark, so a client resuming from
        before it gets a snapshot; then every local connection is closed with 4012
        ("resynchronise"): clients reconnect, get the snapshot, and say so. What only Redis
        held (open questions, polls, the board, chat) is gone, and the snapshots say that
        truthfully (empty) rather than leaving stale state on the pages.
        """
        for session_id, room in list(self.rooms.items()):
            cached = self._records.get(session_id)
            if cached is not None:
                restored = copy.copy(cached)
                restored.participants, restored.content_history = {}, []
                restored.interaction_history, restored.history_counts = [], None
                try:
                    await self.store.create(restored)
                except InvalidRequest:
                    pass  # another process restored it first
            for conn in list(room.connections.values()):
                who = conn.identity
                with contextlib.suppress(SessionNotFound):
                    await self.store.change_connections(
                        session_id, user_id=who.user_id, name=who.name, role=who.role,
                        delta=1, now_ms=now_ms(), device=conn.device)
            await self.bus.mark_reset(session_id)
            logger.warning("Session(%s) restored after a Redis reset; resynchronising %d "
                           "connections", session_id, len(room.connections))
            for conn in list(room.connections.values()):
                conn.spawn(conn.close(CLOSE_RESYNC, "resynchronise: reconnect"), "resync")

    async def replace_connections(self, conn: Connection, token_id: str) -> None:
        """``conn`` resumed with the resume token ``token_id``: the connection that token was
        given to, in whatever process, closes (4009 "taken over")."""
        if token_id:
            await self.publish(conn.session_id, Audience.user(conn.user_id),
                               CONNECTION_REPLACED, {"token": token_id, "by": conn.id})

    async def tell_staff(self, type: str, payload: dict[str, Any]) -> None:
        """A reply (not a stream event) to the staff connected here: when the shared state
        is unreachable, nothing can be published, but the teacher should still know."""
        text = encode_reply(type, payload, session_id="")
        for room in list(self.rooms.values()):
            for conn in list(room.connections.values()):
                if conn.identity.is_staff:
                    await conn.reply(text, "websocket")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Shutdown: refuse new joins, tell every connection 1001 (reconnect), wait (bounded).

        Connections close at once and in parallel; each waits for its peer connection at
        most a couple of seconds; what is still closing at ``timeout_s`` is left behind.
        """
        self.closing = True
        conns = [c for room in self.rooms.values() for c in room.connections.values()]
        if conns:
            logger.info("closing %d connections (1001: server restarting)", len(conns))
            closing = asyncio.gather(*(c.close(CLOSE_GOING_AWAY, "server restarting: reconnect")
                                       for c in conns), return_exceptions=True)
            try:
                await asyncio.wait_for(closing, timeout_s)
            except TimeoutError:
                logger.warning("connections still closing after %.1f s", timeout_s)
        for room in list(self.rooms.values()):
            room.close()
        self.rooms.clear()
