"""Workarounds for per-packet overhead in aiortc 1.16 / aioice 0.13 on the data-channel path.

A fan-out server spends most of its CPU per delivered message inside aiortc's send
path (SCTP -> DTLS -> ICE -> UDP) and in handling the SACK each client returns for
each packet (docs/benchmarks.md, section 2). This module trims three costs that are
pure overhead, without changing what goes on the wire:

1. **A Task per ``RTCDataChannel.send()``.** ``RTCSctpTransport._data_channel_send``
   ends with ``asyncio.ensure_future(self._data_channel_flush())``: one Task created,
   scheduled and stepped per message, although the flush normally runs to completion
   without ever suspending (the UDP ``sendto`` below it is synchronous). Here the flush
   coroutine is started at once; only if it really suspends (e.g. a TURN channel bind)
   is the rest handed to a Task, exactly as before. If a flush is already running on
   that transport (e.g. ``send()`` called from a ``bufferedamountlow`` handler), the
   original ``ensure_future`` is used, so flushes never nest. Messages still go
   through the same FIFO queue and get TSNs/stream sequence numbers in ``send()``
   order.
   *Can go when* aiortc sends without a Task per message (or Python >= 3.12 with an
   eager task factory is used for the server loop).

2. **A timer created and cancelled per packet for T3-rtx.** With one message in
   flight at a time (the fan-out case), every send does ``loop.call_later(rto, ...)``
   (``_t3_start``) and every SACK ``handle.cancel()`` (``_t3_cancel``). Here T3 is a
   deadline plus one lazily re-armed timer (the classic "lazy timer" used by kernel
   SCTP/TCP stacks): start/restart only move the deadline, cancel clears it, and the
   timer, when it fires early, re-arms itself for the current deadline. The
   retransmission logic (``_t3_expired``) is aiortc's own and runs at the same time
   it did (never earlier; at most one timer-granularity later).
   ``_t3_handle`` keeps its meaning for aiortc's code ("T3 is running" when not None).
   *Can go when* aiortc stops re-creating the T3 handle per packet.

3. **A STUN parse attempt per DTLS datagram.** aioice's ``StunProtocol.
   datagram_received`` parses every datagram as STUN and only passes it to the data
   path when that raises ``ValueError``. Datagrams whose first byte is 20..63 are
   DTLS by RFC 7983 demultiplexing (STUN's first byte is 0..3), so they go straight
   to the data path, as they would after the failed parse.
   *Can go when* aioice demultiplexes by first byte (RFC 7983) itself.

``apply()`` is idempotent and goes through the package's version gate
(:mod:`.versions`): on other versions it logs a warning and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Generator
from typing import Any

from .versions import supported

logger = logging.getLogger(__name__)

_applied = False
_background: set[asyncio.Future[Any]] = set()


def _spawn(awaitable: Any) -> None:
    """``asyncio.ensure_future`` keeping a reference until the task is done."""
    task = asyncio.ensure_future(awaitable)
    _background.add(task)
    task.add_done_callback(_background.discard)


# -- 1. eager data-channel flush ---------------------------------------------------------------


class _Resume:
    """Awaitable finishing a coroutine that was started eagerly and then suspended.

    ``first`` is what the coroutine yielded (a Future with ``_asyncio_future_blocking``
    set, or None for a bare ``sleep(0)``); a Task awaiting this object waits for it,
    then keeps driving the coroutine exactly as it would have from the start.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        pending = self._first
        while True:
            try:
                value = yield pending
            except GeneratorExit:
                self._coro.close()
                raise
            except BaseException as exc:  # CancelledError (or any throw) goes to the coroutine
                try:
                    pending = self._coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                pending = self._coro.send(value)
            except StopIteration as stop:
                return stop.value


def _run_eagerly(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro`` now; if it suspends, let a Task finish it (like ``ensure_future``)."""
    try:
        first = coro.send(None)
    except StopIteration:
        return
    except (KeyboardInterrupt, SystemExit):
        raise
    except ConnectionError as exc:  # DTLS/ICE gone: the channel closes on its own shortly
        logger.debug("data channel flush: %s", exc)
        return
    except BaseException:
        # ensure_future would have reported this as "Task exception was never retrieved".
        logger.exception("data channel flush failed")
        return
    _spawn(_Resume(coro, first))


def _patch_flush(sctp: Any) -> None:
    cls = sctp.RTCSctpTransport
    original_flush = cls._data_channel_flush
    WEBRTC_STRING, WEBRTC_STRING_EMPTY = sctp.WEBRTC_STRING, sctp.WEBRTC_STRING_EMPTY
    WEBRTC_BINARY, WEBRTC_BINARY_EMPTY = sctp.WEBRTC_BINARY, sctp.WEBRTC_BINARY_EMPTY

    async def _data_channel_flush(self: Any) -> None:
        self._tuning_flushing = getattr(self, "_tuning_flushing", 0) + 1
        try:
            await original_flush(self)
        finally:
            self._tuning_flushing -= 1

    def _data_channel_send(self: Any, channel: Any, data: bytes | str) -> None:
        # aiortc 1.16 RTCSctpTransport._data_channel_send, but the flush starts at once.
        if data == "":
            pp_id, user_data = WEBRTC_STRING_EMPTY, b"\x00"
        elif isinstance(data, str):
            pp_id, user_data = WEBRTC_STRING, data.encode("utf8")
        elif data == b"":
            pp_id, user_data = WEBRTC_BINARY_EMPTY, b"\x00"
        else:
            pp_id, user_data = WEBRTC_BINARY, data

        if self._remote_max_message_size and (
            len(user_data) > self._remote_max_message_size
        ):
            raise ValueError(
                f"Cannot send message of {len(user_data)} bytes, the remote party "
                f"only supports messages up to {self._remote_max_message_size} bytes"
            )

        channel._addBufferedAmount(len(user_data))
        self._data_channel_queue.append((channel, pp_id, user_data))
        if getattr(self, "_tuning_flushing", 0):
            _spawn(self._data_channel_flush())  # never nest flushes (aiortc's behaviour)
        else:
            _run_eagerly(self._data_channel_flush())

    _data_channel_flush.__wrapped__ = original_flush  # type: ignore[attr-defined]
    cls._data_channel_flush = _data_channel_flush
    cls._data_channel_send = _data_channel_send


# -- 2. lazy T3-rtx timer ----------------------------------------------------------------------


class _T3Running:
    """Stands in ``_t3_handle`` while T3 runs (aiortc tests it for None / truthiness)."""

    __slots__ = ()

    def cancel(self) -> None:  # aiortc code only calls it through _t3_* methods
        pass

    def __repr__(self) -> str:
        return "<T3 running>"


_T3_RUNNING = _T3Running()


def _patch_t3(sctp: Any) -> None:
    cls = sctp.RTCSctpTransport
    CLOSED = cls.State.CLOSED
    original_expired = cls._t3_expired

    def _t3_arm(self: Any) -> None:
        deadline = self._loop.time() + self._rto
        self._tuning_t3_deadline = deadline
        timer = getattr(self, "_tuning_t3_timer", None)
        if timer is not None and self._tuning_t3_timer_at <= deadline:
            return  # the pending timer fires first and re-arms for the deadline
        if timer is not None:
            timer.cancel()
        self._tuning_t3_timer_at = deadline
        self._tuning_t3_timer = self._loop.call_at(deadline, self._tuning_t3_fire)

    def _tuning_t3_fire(self: Any) -> None:
        self._tuning_t3_timer = None
        deadline = getattr(self, "_tuning_t3_deadline", None)
        if self._t3_handle is None or deadline is None:
            return  # T3 was stopped since
        if self._loop.time() < deadline:
            self._tuning_t3_timer_at = deadline
            self._tuning_t3_timer = self._loop.call_at(deadline, self._tuning_t3_fire)
            return
        self._tuning_t3_deadline = None
        original_expired(self)  # sets _t3_handle = None, marks chunks, schedules _transmit

    def _t3_start(self: Any) -> None:
        assert self._t3_handle is None
        self._t3_handle = _T3_RUNNING
        _t3_arm(self)

    def _t3_restart(self: Any) -> None:
        self._t3_handle = _T3_RUNNING
        _t3_arm(self)

    def _t3_cancel(self: Any) -> None:
        if self._t3_handle is not None:
            self._t3_handle = None
            self._tuning_t3_deadline = None
        if self._association_state == CLOSED:
            timer = getattr(self, "_tuning_t3_timer", None)
            if timer is not None:
                timer.cancel()
                self._tuning_t3_timer = None

    cls._tuning_t3_fire = _tuning_t3_fire
    cls._t3_start = _t3_start
    cls._t3_restart = _t3_restart
    cls._t3_cancel = _t3_cancel


# -- 3. RFC 7983 demultiplexing before STUN parsing ------------------------------------------


def _patch_stun_demux(ice: Any) -> None:
    cls = ice.StunProtocol
    original = cls.datagram_received

    def datagram_received(self: Any, data: Any, addr: tuple[Any, ...]) -> None:
        if data and 19 < data[0] < 64:  # DTLS (RFC 7983); STUN starts with 0..3
            candidate = getattr(self, "local_candidate", None)
            if candidate is None:
                # Arrived before aioice finished setting up this socket (seen under load):
                # drop it, DTLS resends; aioice's own path would raise AttributeError.
                return
            self.receiver.data_received(data, candidate.component)
            return
        original(self, data, addr)

    cls.datagram_received = datagram_received


# -- 4. (opt-in) delayed SACK -----------------------------------------------------------------

SACK_DELAY_S = 0.2  # RFC 9260 section 6.2: at most 500 ms; 200 ms is usrsctp's and dcsctp's
SACK_EVERY_PACKETS = 2  # ... and a SACK for at least every second packet with DATA


def _patch_delayed_sack(sctp: Any) -> None:
    cls = sctp.RTCSctpTransport
    ESTABLISHED = cls.State.ESTABLISHED
    original_send_sack = cls._send_sack

    async def _send_sack_now(self: Any) -> None:
        timer = getattr(self, "_tuning_sack_timer", None)
        if timer is not None:
            timer.cancel()
            self._tuning_sack_timer = None
        self._tuning_sack_packets = 0
        await original_send_sack(self)

    async def _tuning_sack_timer_fired(self: Any) -> None:
        if self._sack_needed and self._association_state == ESTABLISHED:
            try:
                await _send_sack_now(self)
            except ConnectionError:
                pass

    def _on_sack_timer(self: Any) -> None:
        self._tuning_sack_timer = None
        _spawn(_tuning_sack_timer_fired(self))

    async def _send_sack(self: Any) -> None:
        # Called by _handle_data once per received packet that needs a SACK.
        packets = getattr(self, "_tuning_sack_packets", 0) + 1
        self._tuning_sack_packets = packets
        if (packets >= SACK_EVERY_PACKETS or self._sack_misordered or self._sack_duplicates
                or self._association_state != ESTABLISHED):
            await _send_sack_now(self)  # gaps and duplicates are reported at once (6.7)
        elif getattr(self, "_tuning_sack_timer", None) is None:
            self._tuning_sack_timer = self._loop.call_later(
                SACK_DELAY_S, _on_sack_timer, self)

    cls._send_sack = _send_sack


_delayed_sack_applied = False


def apply_delayed_sack() -> None:
    """Opt-in: SACK every 2nd DATA packet or after 200 ms, as browsers' SCTP stacks do.

    aiortc 1.16 SACKs every packet carrying DATA at once (``_handle_data`` ->
    ``_send_sack``); RFC 9260 section 6.2 lets a receiver delay it (every second packet,
    at most 200-500 ms), and usrsctp/dcsctp (browsers) do. It halves the SACKs the
    *sender* must process and the receiver must send. Out-of-order data and duplicates
    are still SACKed at once, so fast retransmit is not slowed down. The server mostly
    sends, so this only pays on the server for client->server traffic; the benchmark
    applies it to its aiortc clients to emulate browsers. *Can go when* aiortc delays
    SACKs itself.
    """
    global _delayed_sack_applied
    if _delayed_sack_applied:
        return
    _delayed_sack_applied = True
    if not supported("sctp.delayed_sack"):
        return
    from aiortc import rtcsctptransport as sctp

    _patch_delayed_sack(sctp)


# -- entry point -------------------------------------------------------------------------------



def apply() -> None:
    """Install the workarounds (idempotent). Call once at start-up, before any peer."""
    global _applied
    if _applied:
        return
    _applied = True
    if not supported("sctp"):
        return
    from aioice import ice
    from aiortc import rtcsctptransport as sctp

    _patch_flush(sctp)
    _patch_t3(sctp)
    _patch_stun_demux(ice)
    logger.debug("sctp patches applied")


def applied() -> bool:
    return _applied


# -- reading: is a data channel's path still alive? -------------------------------------------


def stalled_s(transport: Any, now_s: float) -> float:
    """How long the oldest unacknowledged DATA chunk has waited since its first sending,
    if it has had to be sent again (0.0: nothing is stalled).

    aiortc 1.16 keeps sent-but-unacked chunks in the private ``_sent_queue``; each keeps
    the time of its *first* sending (``_sent_time``; retransmissions leave it alone) and
    how often it was sent (``_sent_count``). A resent chunk unacknowledged for seconds
    means the path carries nothing back; aiortc exposes no delivery progress to see it
    otherwise. *Can go when* aiortc reports SCTP delivery progress.
    """
    queue = getattr(transport, "_sent_queue", None)
    if not queue:
        return 0.0
    chunk = queue[0]
    sent_at = getattr(chunk, "_sent_time", None)
    if sent_at is None or getattr(chunk, "_sent_count", 0) < 2:
        return 0.0
    return max(0.0, now_s - float(sent_at))


__all__ = ["apply", "applied", "apply_delayed_sack", "stalled_s"]
