"""Client messages, from either transport, to the core or the feature that declared them.

Every message is validated at the boundary against the model registered for
its type (:mod:`rtc_server.base.messages`): the core's own (signaling, replay,
ping, groups, session) here, each feature's through :meth:`Dispatcher.install`.
Domain and protocol errors become ``error`` replies that name what was wrong
and echo the message id; the connection and everyone else carry on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rtc_server.base.exceptions import ClassroomError, InvalidRequest, RateLimited
from rtc_server.base.messages import (
    Candidate,
    ClientMessageBase,
    GroupSet,
    Leave,
    MessageRegistry,
    ParticipantRemove,
    Ping,
    Replay,
    SdpAnswer,
    SdpOffer,
    SessionEnd,
    SessionUpdate,
    TransportChoice,
    peek_message_id,
)
from rtc_server.base.protocol import encode_reply, error_reply, now_ms

from .classroom import Classroom
from .connection import Connection
from .feature import Feature
from .peer import Peer

logger = logging.getLogger(__name__)

SIGNALING_TYPES = frozenset({"offer", "answer", "candidate"})
# Messages that change nothing, or are idempotent, are not deduplicated by id.
NO_DEDUPE_TYPES = SIGNALING_TYPES | {"ping", "replay", "transport", "leave"}
#: What may travel on the unordered, unreliable ``ephemeral`` channel.
EPHEMERAL_TYPES = frozenset({"ping"})
#: Student messages that add nothing to the session log (every other one counts against the
#: student's log quota).
UNLOGGED_TYPES = NO_DEDUPE_TYPES | {"board.sync", "interactions.sync", "media.max_rung"}
Handler = Callable[[Connection, Any, str], Awaitable[dict[str, Any] | None]]
M = TypeVar("M", bound=ClientMessageBase)


class Dispatcher:
    """Handles one client message at a time per connection (the connection serialises)."""

    def __init__(self, classroom: Classroom) -> None:
        self.classroom = classroom
        self.config = classroom.config
        self.features = classroom.features
        self.counts: dict[str, int] = {}
        #: Error replies sent, by code (``internal_error`` too): the admin page's error rate.
        self.errors: dict[str, int] = {}
        self.registry = MessageRegistry(())
        self._running: set[asyncio.Future[Any]] = set()
        self._handlers: dict[type, Handler] = {}
        self.add(SdpOffer, self._offer)
        self.add(SdpAnswer, self._answer)
        self.add(Candidate, self._candidate)
        self.add(Leave, self._leave)
        self.add(TransportChoice, self._transport)
        self.add(Replay, self._replay)
        self.add(Ping, self._ping)
        self.add(GroupSet, self._group_set)
        self.add(SessionUpdate, self._session_update)
        self.add(SessionEnd, self._session_end)
        self.add(ParticipantRemove, self._participant_remove)

    def add(
        self, model: type[M], handler: Callable[[Connection, M, str],
                                                 Awaitable[dict[str, Any] | None]]
    ) -> None:
        """Accept messages of ``model`` and handle them with ``handler(conn, msg, via)``.

        The handler returns a reply payload with a ``type`` (sent back with ``re``), or
        None (an ``ack`` is sent when the message had an ``id``). Domain errors it raises
        become ``error`` replies.
        """
        self.registry.register(model)
        self._handlers[model] = handler

    def _release_if_failed(self, task: asyncio.Future[Any], *, conn: Connection, mid: str
                           ) -> None:
        """A claimed message whose handling failed may be sent again (and handled then)."""
        if task.cancelled() or task.exception() is not None:
            release = self.classroom.store.release_message(conn.session_id, conn.user_id, mid)
            releasing = asyncio.ensure_future(release)
            self._running.add(releasing)
            releasing.add_done_callback(self._running.discard)

    def install(self, feature: Feature) -> None:
        """Accept the client messages ``feature`` declares."""
        for route in feature.routes():
            self.add(route.model, route.handler)

    async def __call__(self, conn: Connection, raw: str | bytes, via: str) -> None:
        mid: str | None = None
        try:
            msg = self.registry.parse(raw, max_bytes=self.config.max_message_bytes)
            mid = msg.id
            self.counts[msg.type] = self.counts.get(msg.type, 0) + 1
            if via == "ephemeral" and msg.type not in EPHEMERAL_TYPES:
                raise InvalidRequest(f"{msg.type!r} must not go over the ephemeral channel "
                                     "(only ping does)")
            if conn.role == "student" and msg.type not in UNLOGGED_TYPES:
                wait_s = self.classroom.take_log_quota(conn)
                if wait_s > 0:
                    raise RateLimited(
                        f"you are sending too much for the class to keep; wait "
                        f"{wait_s:.1f} s", retry_after_ms=math.ceil(wait_s * 1000))
            if mid is not None and msg.type not in NO_DEDUPE_TYPES:
                store = self.classroom.store
                if not await store.claim_message(conn.session_id, conn.user_id, mid):
                    # A resend (after a reconnect) of a message already handled.
                    await conn.reply(encode_reply("ack", {"id": mid, "duplicate": True},
                                                  session_id=conn.session_id, re=mid), via)
                    return
                # Handled to the end even if the connection closes meanwhile (a drop while
                # handling): the claim then stands for what was done, and the client's
                # resend is answered "duplicate" — never done twice, never lost.
                task = asyncio.ensure_future(self._handlers[type(msg)](conn, msg, via))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                task.add_done_callback(functools.partial(self._release_if_failed, conn=conn,
                                                         mid=mid))
                result = await asyncio.shield(task)
            else:
                result = await self._handlers[type(msg)](conn, msg, via)
        except ClassroomError as exc:
            if mid is None:
                mid = peek_message_id(raw, max_bytes=self.config.max_message_bytes)
            logger.info("%r %s: %s", conn, exc.code, exc.message)
            self.errors[exc.code] = self.errors.get(exc.code, 0) + 1
            await conn.reply(error_reply(conn.session_id, exc.code, exc.message, re=mid,
                                         **exc.details), via)
            return
        if result is not None:
            await conn.reply(encode_reply(result.pop("type"), result, session_id=conn.session_id,
                                          re=mid), via)
        elif mid is not None and msg.type not in ("candidate", "ping"):
            await conn.reply(encode_reply("ack", {"id": mid}, session_id=conn.session_id,
                                          re=mid), via)

    # -- signaling -------------------------------------------------------------------------

    def _peer(self, conn: Connection) -> Peer:
        old = conn.peer
        if old is not None and (old.pc.connectionState in ("failed", "closed")
                                or old.pc.signalingState == "closed"):
            # aiortc has no ICE restart: after a failure, a new offer gets a new peer
            # connection on the same WebSocket (the old one is closed or closing).
            conn.data_channel_lost("replaced")
            conn.peer = None
            conn.spawn(old.close(), "close the replaced peer")
        if conn.peer is None:
            peer = Peer(conn.id, self.config, on_datachannel=conn.on_datachannel,
                        on_state=lambda state: _peer_state(conn, state), owner=conn,
                        listeners=(self.features,))
            conn.attach_peer(peer)
            return peer
        return conn.peer

    async def _offer(self, conn: Connection, msg: SdpOffer, via: str) -> dict[str, Any]:
        peer = self._peer(conn)
        fresh = not peer.answered
        if fresh:
            conn.spawn(_expect_connected(conn, peer, self.config.peer_connect_timeout_s),
                       "ICE watchdog")
        try:
            async with self.classroom.peer_admission.admit():
                sdp = await peer.answer(msg.sdp)
        except InvalidRequest:
            if fresh:  # a failed first offer leaves nothing behind; the client may try again
                await peer.close()
                conn.peer = None
            raise
        return {"type": "answer", "sdp": sdp}

    async def _answer(self, conn: Connection, msg: SdpAnswer, via: str) -> None:
        if conn.peer is None:
            raise InvalidRequest("no server offer is pending")
        await conn.peer.accept_answer(msg.sdp)

    async def _candidate(self, conn: Connection, msg: Candidate, via: str) -> None:
        if conn.peer is None:
            raise InvalidRequest("candidate before offer: send the offer first")
        await conn.peer.add_candidate(msg.candidate, msg.sdpMid, msg.sdpMLineIndex)

    async def _leave(self, conn: Connection, msg: Leave, via: str) -> None:
        conn.left_cleanly = True
        await conn.reply(encode_reply("bye", {}, session_id=conn.session_id, re=msg.id), via)
        await conn.close(1000, "left")

    async def _transport(self, conn: Connection, msg: TransportChoice, via: str) -> None:
        conn.choose_transport(msg.events)

    async def _replay(self, conn: Connection, msg: Replay, via: str) -> dict[str, Any]:
        complete = await self.classroom.replay(conn, msg.after_seq)
        return {"type": "replay", "after_seq": msg.after_seq, "complete": complete}

    async def _ping(self, conn: Connection, msg: Ping, via: str) -> dict[str, Any]:
        conn.note_ping(via, msg.last_seq)
        if msg.rtt_ms is not None:
            self.features.ping(conn, msg.rtt_ms)
        return {"type": "pong", "t": msg.t, "server_ms": now_ms(),
                "server_mono_ms": int(time.monotonic() * 1000)}

    # -- classroom ---------------------------------------------------------------------------

    async def _group_set(self, conn: Connection, msg: GroupSet, via: str) -> dict[str, Any]:
        members = await self.classroom.set_group(conn.identity, msg.group, msg.add, msg.remove)
        return {"type": "ack", "id": msg.id, "group": msg.group, "members": members}

    async def _session_update(self, conn: Connection, msg: SessionUpdate, via: str) -> None:
        await self.classroom.update_session(conn.identity, msg.model_dump(
            include={"subject", "grade_level", "current_topic", "language", "planned_minutes"}))

    async def _session_end(self, conn: Connection, msg: SessionEnd, via: str) -> None:
        await self.classroom.end_session(conn.identity)

    async def _participant_remove(self, conn: Connection, msg: ParticipantRemove,
                                  via: str) -> dict[str, Any]:
        await self.classroom.remove_participant(conn.identity, msg.user)
        return {"type": "ack", "id": msg.id, "user": msg.user}


def _peer_state(conn: Connection, state: str) -> None:
    if state in ("failed", "closed"):
        # The WebSocket stays: events fall back to it, and what the channel may not have
        # delivered is sent again there.
        conn.data_channel_lost(state)
        peer = conn.peer
        if state == "failed" and peer is not None:
            conn.spawn(peer.close(), "close the failed peer")  # its sockets go at once


async def _expect_connected(conn: Connection, peer: Peer, timeout_s: float) -> None:
    """A peer that has not connected by then (ICE never started or never succeeded) is
    closed, releasing its UDP sockets; the client may offer again."""
    await asyncio.sleep(timeout_s)
    if conn.peer is peer and peer.pc.connectionState in ("new", "connecting"):
        logger.info("%r peer not connected after %.0f s (%s); closing it", conn,
                    timeout_s, peer.pc.connectionState)
        conn.data_channel_lost("never connected")
        conn.peer = None
        await peer.close()



__all__ = ["Dispatcher"]
