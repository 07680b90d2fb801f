"""Pacing and probe padding on aiortc's ``RTCRtpSender`` (one viewer's video sender).

Checked against aiortc 1.16 (``RTCRtpSender._run_rtp``, ``_retransmit``):

* the sender writes every packet of a frame back to back with
  ``await self.transport._send_rtp(...)``, so a keyframe leaves at line rate
  and overflows a shallow shaper that carries the rung's average twice over
  (issue 14). :func:`pace_sender` puts a per-sender proxy in front of the
  sender's DTLS transport whose ``_send_rtp`` waits for the release time the
  caller's schedule gives each RTP packet (RTCP passes at once). The waiting
  happens inside the sender's own loop, so its track queue absorbs the
  delay. *Can go when* aiortc paces, or when the forwarding sender of
  issue 10 replaces ``RTCRtpSender`` for viewers (it takes the same
  :class:`adaptive.pacer.Pacer`).
* aiortc cannot send padding. :func:`send_padding` sends RTX copies of the
  sender's most recent packets (its NACK history), with a fresh
  ``abs-send-time`` (a copy's original send time would read as queueing
  delay to the receiver's estimator), through the same paced path. A
  receiver that already has the packet drops the copy; one that lost it
  recovers it. Needs RTX negotiated (the rung tracks offer it, see
  :mod:`rtc_server.media.negotiation`). *Can go with* the forwarding sender.

* aiortc answers every NACK, as often as it comes: on a full link the
  retransmissions add the loss on top of the stream and are lost in turn.
  :func:`limit_retransmissions` answers only what the caller's budget
  allows (:class:`adaptive.retransmit_budget.RetransmitBudget`). *Can go
  with* the forwarding sender.

All reach into private attributes, so they apply only on the tested
versions (:mod:`.versions`); elsewhere :func:`pace_sender` leaves the sender
unpaced and :func:`send_padding` sends nothing.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender, clock
from aiortc.rtp import RTP_HISTORY_SIZE, wrap_rtx
from aiortc.utils import uint16_add

from .versions import supported

__all__ = ["can_pad", "limit_retransmissions", "pace_sender", "paced_bytes", "send_padding"]

#: Waits shorter than this are not worth a timer: the packet goes now. A timer costs a
#: trip through the event loop, which on a busy machine takes milliseconds: waiting for
#: each 0.6 ms slot of a 14 Mbit/s probe held padding to half its rate. Within 5 ms the
#: packets go as one burst, the pacer's own BURST_MS.
MIN_WAIT_S = 0.005


def _is_rtcp(data: bytes) -> bool:
    return len(data) > 1 and 192 <= data[1] <= 223  # RFC 5761 demultiplexing


class PacedTransport:
    """Stands in for a sender's ``RTCDtlsTransport``; RTP waits for its release time."""

    def __init__(self, transport: Any, release_ms: Callable[[float, int], float]) -> None:
        self._transport = transport
        #: ``release_ms(now_ms, size_bytes)`` -> when the packet may leave (same clock).
        self._release_ms = release_ms
        #: RTP bytes that have actually left (after their wait), media and padding.
        self.sent_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    @property
    def inner(self) -> Any:
        return self._transport

    async def _send_rtp(self, data: bytes) -> None:
        if not _is_rtcp(data):
            now_ms = time.monotonic() * 1000
            wait_s = (self._release_ms(now_ms, len(data)) - now_ms) / 1000
            if wait_s >= MIN_WAIT_S:
                await asyncio.sleep(wait_s)
            await self._transport._send_rtp(data)
            self.sent_bytes += len(data)
            return
        await self._transport._send_rtp(data)


def pace_sender(sender: RTCRtpSender, release_ms: Callable[[float, int], float]) -> bool:
    """Pace ``sender``'s RTP by ``release_ms(now_ms, size)``; True when it is paced.

    Idempotent; call again after a renegotiation (``setTransport`` replaces
    the proxy with the plain transport).
    """
    if not supported("rtp_pacing.pace"):
        return False
    current = sender._RTCRtpSender__transport  # type: ignore[attr-defined]
    if isinstance(current, PacedTransport):
        return True
    sender._RTCRtpSender__transport = PacedTransport(current, release_ms)  # type: ignore[attr-defined]
    return True


def paced_bytes(sender: RTCRtpSender) -> int | None:
    """RTP bytes ``sender`` has actually sent through its pacing (``None``: not paced).

    What a probe window measures: bytes *scheduled* in a window may leave after
    it, and a probe judged on them looked carried on a link that spread it out.
    """
    current = getattr(sender, "_RTCRtpSender__transport", None)
    return current.sent_bytes if isinstance(current, PacedTransport) else None


def can_pad(sender: RTCRtpSender) -> bool:
    """Whether :func:`send_padding` can send anything on ``sender`` (RTX negotiated)."""
    return (supported("rtp_pacing.padding")
            and getattr(sender, "_RTCRtpSender__rtx_payload_type", None) is not None)


async def send_padding(sender: RTCRtpSender, max_bytes: int) -> int:
    """Send RTX copies of recent packets, at most ``max_bytes``; returns the bytes sent."""
    if max_bytes <= 0 or not can_pad(sender):
        return 0
    history: dict[int, Any] = sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    rtx_pt: int = sender._RTCRtpSender__rtx_payload_type  # type: ignore[attr-defined]
    extensions_map = sender._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
    recent = sorted(history.values(), key=lambda p: p.timestamp, reverse=True)
    sent = 0
    for packet in recent:
        size = len(packet.payload) + 14  # RTX header and original sequence number
        if sent + size > max_bytes:
            break
        seq = sender._RTCRtpSender__rtx_sequence_number  # type: ignore[attr-defined]
        rtx = wrap_rtx(packet, payload_type=rtx_pt, sequence_number=seq, ssrc=sender._rtx_ssrc)
        sender._RTCRtpSender__rtx_sequence_number = uint16_add(seq, 1)  # type: ignore[attr-defined]
        rtx.extensions = copy.copy(packet.extensions)
        rtx.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        try:
            await sender.transport._send_rtp(rtx.serialize(extensions_map))
        except ConnectionError:
            break
        sent += size
    return sent


def limit_retransmissions(sender: RTCRtpSender, allow: Callable[[int, int], bool]) -> bool:
    """Answer a NACK for packet ``seq`` only when ``allow(seq, size_bytes)`` says so.

    aiortc 1.16 resends every NACKed packet (``RTCRtpSender._retransmit``), as
    often as it is asked; on a full link that adds the loss on top of the
    stream. Shadows ``_retransmit`` on this sender instance (idempotent); the
    retransmission itself runs in its own task, so that pacing it never holds up
    the peer's receive path.
    """
    if not supported("rtp_pacing.retransmit"):
        return False
    if getattr(sender, "_classroom_rtx_limited", False):
        return True
    history: dict[int, Any] = sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
    original = sender._retransmit
    pending: set[asyncio.Task[None]] = set()

    async def retransmit(sequence_number: int) -> None:
        packet = history.get(sequence_number % RTP_HISTORY_SIZE)
        if packet is None or packet.sequence_number != sequence_number:
            return
        if allow(sequence_number, len(packet.payload) + 14):
            # Not awaited: aiortc awaits this inside the peer's RTCP (and SCTP) receive
            # path, and a paced retransmission may wait its turn for a while.
            task = asyncio.ensure_future(original(sequence_number))
            pending.add(task)
            task.add_done_callback(pending.discard)

    sender._retransmit = retransmit  # type: ignore[method-assign]
    sender._classroom_rtx_limited = True  # type: ignore[attr-defined]
    return True

