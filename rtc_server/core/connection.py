"""One client connection: its transports, its outbound event stream, its inbound messages.

Outbound, the connection owns one ordered stream of events. A single pump
task sends them, batched (several envelopes in one frame, separated by
``\\n``) when they queue up, over the *current* transport: the WebSocket
until the ``events`` data channel opens, then the data channel unless the
client asked for the WebSocket. Switching transports is done by the pump
between two frames and announced with a ``transport`` reply on the old
transport, so the client can restore one stream from both (docs/protocol.md).
When the data channel dies — closed, failed, or a path that stopped carrying
anything back (no client ping for :data:`DC_SILENCE_S`, or SCTP data resent and
unacknowledged that long) — every event after the last ``seq`` the client
acknowledged (its pings carry ``last_seq``) is sent again on the WebSocket,
read from the session's log; clients drop any ``seq`` they have already seen.

Inbound, messages from either transport go through one rate limiter and one
queue, and are handled in arrival order by the :class:`MessageHandler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from aiortc import RTCDataChannel
from aiortc.exceptions import InvalidStateError

from rtc_server.base.identity import Identity
from rtc_server.base.messages import peek_message_id
from rtc_server.base.protocol import (
    PARTICIPANT_REMOVED,
    SESSION_ENDED,
    Event,
    encode_reply,
    error_reply,
)
from rtc_server.base.ratelimit import TokenBucket
from rtc_server.config import Config
from rtc_server.patches import sctp

from .delivery_latency import DeliveryLatency
from .peer import EPHEMERAL_LABEL, EVENTS_LABEL, Peer

logger = logging.getLogger(__name__)

TransportName = Literal["websocket", "datachannel"]
FRAME_MAX_CHARS = 60_000  # below the 64 KiB SCTP message size every browser accepts
BATCH_MAX_EVENTS = 64
DC_HIGH_WATER_BYTES = 1 << 20
INBOUND_QUEUE_MAX = 1024
RESEND_BUFFER_EVENTS = 1024

# Close codes (docs/protocol.md)
CLOSE_NORMAL = 1000
CLOSE_TOO_SLOW = 4008
CLOSE_FLOOD = 4029
CLOSE_SESSION_ENDED = 4010
CLOSE_REMOVED = 4003
CLOSE_TAKEN_OVER = 4009
#: Events after which the connection closes, once they are on the wire.
CLOSING_EVENTS = {SESSION_ENDED.name: (CLOSE_SESSION_ENDED, "session ended"),
                  PARTICIPANT_REMOVED.name: (CLOSE_REMOVED, "removed from the class")}
CLOSE_WAIT_S = 5.0
#: A data channel whose client pings on it but has sent nothing for this long is dead.
DC_SILENCE_S = 3.0
CLOSE_RESYNC = 4012
CLOSE_GOING_AWAY = 1001
#: Refused messages within this window add up to a flood (``rate_violations_before_close``).
FLOOD_WINDOW_S = 10.0
PEER_CLOSE_TIMEOUT_S = 2.0

#: Reads the logged events addressed to a connection after a seq: (events, complete).
BacklogSource = Callable[[int], Awaitable[tuple[list[Event], bool]]]


class MessageHandler(Protocol):
    async def __call__(self, conn: Connection, raw: str | bytes, via: str) -> None: ...


class WebSocketLike(Protocol):
    """The WebSocket a connection starts on (aiohttp's ``WebSocketResponse`` at the edge)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool: ...


class Connection:
    """A participant's connection, whatever transports it currently has."""

    def __init__(
        self,
        conn_id: str,
        identity: Identity,
        ws: WebSocketLike,
        config: Config,
        handler: MessageHandler,
        *,
        prefer_websocket: bool = False,
        device: str = "",
        latency: DeliveryLatency | None = None,
    ) -> None:
        self.id = conn_id
        self.identity = identity
        self.session_id = identity.session_id
        self.user_id = identity.user_id
        self.role = identity.role
        self.device = device  # "browser", "app", "bot" or "" (what the client said)
        #: The id of the resume token this connection was given (a later resume with it
        #: takes over: this connection is then closed with 4009).
        self.resume_token_id = ""
        self._latency = latency or DeliveryLatency()
        self.ws = ws
        self.peer: Peer | None = None
        self._config = config
        self._handler = handler
        self._events_dc: RTCDataChannel | None = None
        self._ephemeral_dc: RTCDataChannel | None = None
        self.transport: TransportName = "websocket"
        self._wanted: TransportName = "websocket" if prefer_websocket else "datachannel"
        self._outbox: deque[Event] = deque()
        self._resend: deque[Event] = deque()
        self._last_queued_seq = 0
        self._wake = asyncio.Event()
        self._dc_drained = asyncio.Event()
        self._sent: deque[tuple[int, str, TransportName]] = deque(maxlen=RESEND_BUFFER_EVENTS)
        self.last_sent_seq = 0
        self._resend_after_dc_loss = False
        #: The last seq the client said it processed (``ping`` ``last_seq``): after a lost
        #: data channel everything after it is sent again.
        self.acked_seq = 0
        self.backlog_source: BacklogSource | None = None
        self._dc_rx_at: float | None = None  # monotonic time of the last data-channel message
        self._dc_pinging = False  # the client pings over the data channel
        self.dc_losses = 0
        self._close_after: tuple[int, str] | None = None
        self._holding = False
        self._held: list[Event] = []
        self._pump_busy = False  # the pump is between a wake-up and an empty queue
        self.left_cleanly = False
        self._inbound: asyncio.Queue[tuple[str | bytes, str]] = asyncio.Queue(INBOUND_QUEUE_MAX)
        #: The user's message budget (the classroom shares one between their connections).
        self.bucket = TokenBucket(
            rate_per_s=config.rate_messages_per_s, burst=config.rate_burst, now_s=time.monotonic()
        )
        self._refusals: deque[float] = deque()
        self._flooded = False  # closing for flooding: nothing more is admitted
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        self._close_done = asyncio.Event()
        self.sent_frames = 0
        self.sent_events = 0

    def __repr__(self) -> str:
        return f"Connection({self.id} {self.user_id}/{self.role})"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.spawn(self._pump(), "pump")
        self.spawn(self._consume(), "inbound")

    def spawn(self, coro: Awaitable[None], what: str) -> None:
        """Run ``coro`` in a task the connection keeps and cancels when it closes."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"{self!r} {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if self.closed:
            # Someone else is closing it: wait for that to finish (bounded), so that a
            # shutdown that closes everyone really waits for everyone.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._close_done.wait(), CLOSE_WAIT_S)
            return
        self.closed = True
        try:
            await self._close(code, reason)
        finally:
            self._close_done.set()

    async def _close(self, code: int, reason: str) -> None:
        self._wake.set()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # The client hears why first (the WebSocket close code), then the peer goes; a
        # peer that does not close in time (its DTLS/SCTP goodbyes unanswered) is left to
        # its own timers rather than holding the caller up.
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.close(code=code, message=reason.encode()[:120])
        if self.peer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.peer.close()), PEER_CLOSE_TIMEOUT_S)
            except TimeoutError:
                logger.warning("%r peer did not close within %.0f s", self,
                               PEER_CLOSE_TIMEOUT_S)

    # -- transports ----------------------------------------------------------------------------

    def attach_peer(self, peer: Peer) -> None:
        self.peer = peer

    def on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label == EVENTS_LABEL:
            self._events_dc = channel
            channel.bufferedAmountLowThreshold = DC_HIGH_WATER_BYTES // 4
            channel.on("bufferedamountlow", self._dc_drained.set)
            channel.on("message", lambda data: self._receive(data, "datachannel"))
            channel.on("close", self._on_events_dc_closed)
            if channel.readyState == "open":
                self._wake.set()
            else:
                channel.on("open", self._wake.set)
        elif channel.label == EPHEMERAL_LABEL:
            self._ephemeral_dc = channel
            channel.on("message", lambda data: self._receive(data, "ephemeral"))
        else:
            logger.info("%r ignores data channel %r", self, channel.label)

    def _on_events_dc_closed(self) -> None:
        self.data_channel_lost("closed")

    def data_channel_lost(self, why: str = "lost") -> None:
        """The events channel (or the whole peer connection) is gone: fall back to WebSocket."""
        if self._events_dc is None:
            return
        logger.info("%r data channel %s; events go over the WebSocket", self, why)
        self._events_dc = None
        self._ephemeral_dc = None
        self.dc_losses += 1
        if self.transport == "datachannel":
            self._resend_after_dc_loss = True
        self._wake.set()

    def note_ping(self, via: str, last_seq: int | None) -> None:
        """A client ping: it processed the stream up to ``last_seq``; over a data channel
        it also says that channel's path works, and that its silence would mean it does not."""
        if via in ("datachannel", "ephemeral"):
            self._dc_pinging = True
        if last_seq is not None and last_seq > self.acked_seq:
            self.acked_seq = min(last_seq, self.last_sent_seq)

    def check_datachannel(self, now_s: float) -> bool:
        """Declare a silent data channel dead (called about once a second); True if it was.

        The channel may look open while its UDP path carries nothing (a NAT rebinding, a
        firewall): aiortc notices only when ICE consent expires, ~30 s later. A client
        that pings on the channel and went quiet, or SCTP data resent and unacknowledged
        for as long, is enough to give up on it now; the WebSocket is still there.
        """
        channel = self._events_dc
        if channel is None or channel.readyState != "open":
            return False
        silent = (self._dc_pinging and self._dc_rx_at is not None
                  and now_s - self._dc_rx_at > DC_SILENCE_S)
        stuck = sctp.stalled_s(channel.transport, time.time()) > DC_SILENCE_S
        if not (silent or stuck):
            return False
        self.data_channel_lost("silent" if silent else "stuck (SCTP retransmits)")
        if self.peer is not None:
            self.spawn(self.peer.close(), "close dead peer")
        return True

    def _dc_open(self) -> bool:
        return self._events_dc is not None and self._events_dc.readyState == "open"

    def choose_transport(self, wanted: TransportName) -> None:
        self._wanted = wanted
        self._wake.set()

    # -- outbound ------------------------------------------------------------------------------

    def stream_position(self, routed_upto: int) -> int:
        """How far this connection's stream is known to have been sent.

        ``routed_upto`` is the last seq its room routed: every event up to it was either
        queued here or not addressed here. Events still queued were not sent.
        """
        if self._outbox or self._resend or self._held:
            return self.last_sent_seq
        return max(self.last_sent_seq, routed_upto)

    def hold(self) -> None:
        """Keep live events aside while a backlog is read (see :meth:`release`)."""
        self._holding = True

    def release(self) -> None:
        """Queue what was kept aside (backlog and live events) in seq order, once each.

        Live events can arrive while the backlog is read (the Redis bus delivers them from
        its own task), so the two interleave here and are sorted before queueing.
        """
        self._holding = False
        held, self._held = self._held, []
        held.sort(key=lambda event: event.seq)
        for event in held:
            self.enqueue(event)

    def skip_to(self, seq: int) -> None:
        """Start the stream after ``seq`` (a snapshot covers everything up to it)."""
        self._last_queued_seq = max(self._last_queued_seq, seq)
        self.last_sent_seq = max(self.last_sent_seq, seq)

    def enqueue(self, event: Event) -> None:
        """Queue a stream event (called by the room in seq order; never blocks)."""
        if self._holding:
            self._held.append(event)
            return
        if self.closed or event.seq <= self._last_queued_seq:
            return
        if len(self._outbox) >= self._config.send_queue_max:
            logger.warning("%r is not keeping up (%d queued); closing", self, len(self._outbox))
            self.spawn(self.close(CLOSE_TOO_SLOW, "too slow: reconnect and replay"), "close")
            return
        if self._send_now(event):
            return
        self._outbox.append(event)
        self._last_queued_seq = event.seq
        closing = CLOSING_EVENTS.get(event.type)
        if closing is not None:
            self._close_after = closing
        self._wake.set()

    def _send_now(self, event: Event) -> bool:
        """Send on the data channel at once when nothing is waiting (no pump wake-up).

        The common case of a broadcast to an idle connection costs no task switch. Order
        holds because this only happens when nothing is queued, held back or being sent.
        """
        channel = self._events_dc
        if (self._outbox or self._resend or self._pump_busy or self._resend_after_dc_loss
                or self.transport != "datachannel" or self._wanted != "datachannel"
                or channel is None or channel.readyState != "open"
                or event.type in CLOSING_EVENTS
                or channel.bufferedAmount > DC_HIGH_WATER_BYTES):
            return False
        try:
            channel.send(event.wire)
        except (ConnectionError, RuntimeError, ValueError, InvalidStateError):
            return False
        self._last_queued_seq = event.seq
        self._sent.append((event.seq, event.wire, "datachannel"))
        self.last_sent_seq = event.seq
        self.sent_frames += 1
        self.sent_events += 1
        self._latency.sent(event.ts_ms)
        return True

    def send_backlog(self, events: list[Event]) -> None:
        """Send logged events again (replay): those already sent go out before anything new."""
        for event in events:
            if event.seq <= self.last_sent_seq:
                self._resend.append(event)
            else:
                self.enqueue(event)
        self._wake.set()

    async def reply(self, text: str, via: str) -> None:
        """Send a connection-scoped reply on the transport the request came over."""
        if self.closed:
            return
        try:
            eph = self._ephemeral_dc
            if via == "ephemeral" and eph is not None and eph.readyState == "open":
                eph.send(text)
            elif via in ("datachannel", "ephemeral") and self._dc_open():
                assert self._events_dc is not None
                self._events_dc.send(text)
            elif not self.ws.closed:
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError) as exc:
            logger.debug("%r could not reply: %s", self, exc)

    def _current_target(self) -> TransportName:
        if self._wanted == "datachannel" and self._dc_open():
            return "datachannel"
        return "websocket"

    async def _pump(self) -> None:
        logger.debug("%r pump started", self)
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                self._pump_busy = True
                try:
                    await self._maybe_switch()
                    while (self._resend or self._outbox) and not self.closed:
                        await self._maybe_switch()
                        if self._resend:
                            await self._send_batch(self._resend, fresh=False)
                        else:
                            await self._send_batch(self._outbox, fresh=True)
                finally:
                    self._pump_busy = False
                if self._close_after is not None and not self._outbox:
                    await asyncio.sleep(0.05)  # let the transport put it on the wire
                    self.spawn(self.close(*self._close_after), "close")
                    return
        except asyncio.CancelledError:
            pass
        except (ConnectionError, RuntimeError) as exc:
            logger.info("%r pump stopped: %s", self, exc)
        except Exception:
            logger.exception("%r pump failed", self)
        finally:
            logger.debug("%r pump exited", self)
            if not self.closed:
                self.spawn(self.close(), "close")

    async def _maybe_switch(self) -> None:
        target = self._current_target()
        lost_dc = self._resend_after_dc_loss
        if target == self.transport and not lost_dc:
            return
        marker = encode_reply(
            "transport", {"events": target, "after_seq": self.last_sent_seq},
            session_id=self.session_id,
        )
        old = self.transport
        self.transport = target
        self._resend_after_dc_loss = False
        if lost_dc:
            # The data channel died: whatever it carried after the client's last
            # acknowledgement may be lost. Announce on the new transport and send those
            # events again; the client drops seqs it has seen.
            await self._send_frame(marker, target)
            for i, wires in enumerate(await self._unacknowledged()):
                await self._send_frame("\n".join(wires), target)
                if i % 8 == 7:
                    await asyncio.sleep(0)  # a long resend must not starve the loop
        else:
            await self._send_frame(marker, old)
        logger.debug("%r events now over %s after seq %d", self, target, self.last_sent_seq)

    async def _unacknowledged(self) -> list[list[str]]:
        """The sent events after the client's last acknowledgement, in frames.

        Read from the session log when the connection knows its log (every joined
        connection does); the small in-memory ring of recent sends otherwise. If the log
        no longer reaches back, the client cannot be repaired: it is told to reconnect,
        and its resume gets a snapshot (close 4012).
        """
        after, upto = self.acked_seq, self.last_sent_seq
        wires: list[str]
        if self.backlog_source is not None and after < upto:
            events, complete = await self.backlog_source(after)
            if not complete:
                self.spawn(self.close(CLOSE_RESYNC, "resynchronise: reconnect"), "close")
                return []
            wires = [e.wire for e in events if after < e.seq <= upto]
        else:
            wires = [wire for (seq, wire, via) in self._sent
                     if via == "datachannel" and seq > after]
        return [wires[i:i + BATCH_MAX_EVENTS] for i in range(0, len(wires), BATCH_MAX_EVENTS)]

    async def _send_batch(self, queue: deque[Event], *, fresh: bool) -> None:
        batch: list[Event] = []
        size = 0
        while queue and len(batch) < BATCH_MAX_EVENTS:
            nxt = queue[0]
            if batch and size + len(nxt.wire) > FRAME_MAX_CHARS:
                break
            batch.append(queue.popleft())
            size += len(nxt.wire) + 1
        text = batch[0].wire if len(batch) == 1 else "\n".join(e.wire for e in batch)
        via = self.transport
        await self._send_frame(text, via)
        self.sent_events += len(batch)
        self._latency.sent(batch[0].ts_ms)
        if fresh:
            for event in batch:
                self._sent.append((event.seq, event.wire, via))
            self.last_sent_seq = batch[-1].seq

    async def _send_frame(self, text: str, via: TransportName) -> None:
        if via == "datachannel" and self._events_dc is not None and self._dc_open():
            channel = self._events_dc
            if channel.bufferedAmount > DC_HIGH_WATER_BYTES:
                self._dc_drained.clear()
                await self._dc_drained.wait()
            channel.send(text)
        else:
            await self.ws.send_str(text)
        self.sent_frames += 1

    # -- inbound -------------------------------------------------------------------------------

    def _receive(self, data: str | bytes, via: str) -> None:
        """Data-channel message callback: admit through the limiter, queue for handling."""
        self._dc_rx_at = time.monotonic()
        if not self._admit(data, via):
            return
        try:
            self._inbound.put_nowait((data, via))
        except asyncio.QueueFull:
            self.spawn(self.reply(error_reply(
                self.session_id, "rate_limited", "inbound queue full; message dropped, resend it"
            ), via), "reply")

    async def receive_ws(self, data: str | bytes) -> None:
        """WebSocket reader: same limiter and queue (awaiting gives TCP back-pressure)."""
        if self._admit(data, "websocket"):
            await self._inbound.put((data, "websocket"))

    def _admit(self, data: str | bytes, via: str) -> bool:
        """Every message counts, whatever its transport, against the user's one bucket
        (shared by all their connections in this process). Refusals within
        :data:`FLOOD_WINDOW_S` add up: a flood closes the connection even when a token
        now and then lets one message through."""
        if self.closed or self._flooded:
            return False
        now = time.monotonic()
        if self.bucket.take(now):
            return True
        refusals = self._refusals
        refusals.append(now)
        while refusals and now - refusals[0] > FLOOD_WINDOW_S:
            refusals.popleft()
        if len(refusals) >= self._config.rate_violations_before_close:
            if not self._flooded:
                self._flooded = True
                logger.warning("%r flooding; closing", self)
                self.spawn(self._close_when_drained(CLOSE_FLOOD, "flooding: too many messages"),
                           "close")
            return False
        mid = peek_message_id(data, max_bytes=self._config.max_message_bytes)
        retry = self.bucket.retry_after_s()
        self.spawn(self.reply(error_reply(
            self.session_id, "rate_limited",
            f"more than {self._config.rate_messages_per_s:g} messages/s; message not accepted, "
            f"retry after {retry:.2f}s", re=mid, retry_after_ms=math.ceil(retry * 1000),
        ), via), "reply")
        return False

    async def _close_when_drained(self, code: int, reason: str) -> None:
        """Close, but first handle what was already accepted (it was acknowledged as taken:
        it must not vanish), for at most a few seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._inbound.join(), CLOSE_WAIT_S)
        await self.close(code, reason)

    async def _consume(self) -> None:
        try:
            while not self.closed:
                data, via = await self._inbound.get()
                try:
                    await self._handler(self, data, via)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("%r failed handling a %s message", self, via)
                    mid = peek_message_id(data, max_bytes=self._config.max_message_bytes)
                    await self.reply(error_reply(
                        self.session_id, "internal_error", "the server failed on this message",
                        re=mid), via)
                finally:
                    self._inbound.task_done()
        except asyncio.CancelledError:
            pass
