"""What the adaptive controller does to a viewer's video sender, whichever it is.

A ladder viewer's sender is the media forwarder (:class:`.forwarder.ForwardingSender`,
the default) or aiortc's own ``RTCRtpSender`` (``--no-media-forwarder``). The
controller (:mod:`.quality_control`) paces it, limits its retransmissions and has it
send probe padding; this module does each on the forwarder through its hooks, and on
aiortc's sender through the workarounds in :mod:`rtc_server.patches.rtp_pacing`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from aiortc import RTCRtpSender

from adaptive.pacer import Pacer
from rtc_server.patches import can_pad as plain_can_pad
from rtc_server.patches import limit_retransmissions as plain_limit_retransmissions
from rtc_server.patches import pace_sender as plain_pace_sender
from rtc_server.patches import paced_bytes as plain_paced_bytes
from rtc_server.patches import send_padding as plain_send_padding

from .encoder import EncodedPacket
from .forwarder import ForwardingSender

__all__ = ["PacedOutput", "can_pad", "limit_retransmissions", "pace", "send_padding",
           "sent_bytes"]

#: A datagram due within this long goes now (a timer per packet would cost more).
MIN_WAIT_MS = 1.0


class PacedOutput:
    """A forwarder's datagrams released on the viewer's :class:`~adaptive.pacer.Pacer`
    schedule: one timer for the head of the queue, never one per packet.

    A frame's datagrams stay in the one ``bytes`` the forwarder made of them; the queue
    holds (release time, that frame's bytes, start, size), and what is due is sent as
    runs of consecutive datagrams straight out of it (GSO for a run of equal sizes).
    """

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self._queue: deque[tuple[float, bytes, int, int]] = deque()
        self._sender: ForwardingSender | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Bytes released to the sender (what has left, not what waits in the queue).
        self.sent_bytes = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def push(self, sender: ForwardingSender, data: bytes, sizes: list[int],
             frame: EncodedPacket | None) -> None:
        self._sender = sender
        now = time.monotonic() * 1000
        releases = self._pacer.schedule(now, sizes)
        queue = self._queue
        start = 0
        for release, size in zip(releases, sizes, strict=True):
            queue.append((release, data, start, size))
            start += size
        if self._timer is None:
            self._drain()

    def _drain(self) -> None:
        self._timer = None
        sender = self._sender
        if sender is None:
            self._queue.clear()
            return
        now = time.monotonic() * 1000
        queue = self._queue
        limit = now + MIN_WAIT_MS
        while queue and queue[0][0] <= limit:
            # One run: the due datagrams of one frame (or one padding burst), contiguous.
            _, data, start, size = queue.popleft()
            sizes = [size]
            end = start + size
            while queue and queue[0][0] <= limit and queue[0][1] is data:
                size = queue.popleft()[3]
                sizes.append(size)
                end += size
            with memoryview(data) as view:
                sender.send_packed(view[start:end], sizes)
            self.sent_bytes += end - start
        if queue:
            self._timer = asyncio.get_running_loop().call_later(
                (queue[0][0] - now) / 1000, self._drain)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._sender = None


def can_pad(sender: RTCRtpSender) -> bool:
    """Whether :func:`send_padding` can send anything on ``sender`` (RTX negotiated)."""
    if isinstance(sender, ForwardingSender):
        return sender.can_pad
    return plain_can_pad(sender)


def pace(sender: RTCRtpSender, pacer: Pacer) -> bool:
    """Pace ``sender``'s video on ``pacer`` (idempotent); True when it is paced."""
    if isinstance(sender, ForwardingSender):
        if sender.pacer is None:
            sender.pacer = PacedOutput(pacer)
        return True
    return plain_pace_sender(sender, lambda now, size: pacer.schedule(now, [size])[0])


def sent_bytes(sender: RTCRtpSender) -> int | None:
    """Video bytes that have actually left through the pacing (``None``: not paced)."""
    if isinstance(sender, ForwardingSender):
        paced = sender.pacer
        return paced.sent_bytes if isinstance(paced, PacedOutput) else None
    return plain_paced_bytes(sender)


def report_now(sender: RTCRtpSender, hold_s: float) -> bool:
    """Send a sender report now and hold the periodic one for ``hold_s`` (the
    forwarding sender only; aiortc's own sender keeps its schedule: False)."""
    if isinstance(sender, ForwardingSender):
        sender.report_now(hold_s)
        return True
    return False


def limit_retransmissions(sender: RTCRtpSender, allow: Callable[[int, int], bool]) -> bool:
    """Answer a NACK for packet ``seq`` only when ``allow(seq, size_bytes)`` says so."""
    if isinstance(sender, ForwardingSender):
        sender.retransmit_filter = allow
        return True
    return plain_limit_retransmissions(sender, allow)


async def send_padding(sender: RTCRtpSender, max_bytes: int) -> int:
    """Probe padding (RTX copies of recent packets), at most ``max_bytes``; bytes sent."""
    if isinstance(sender, ForwardingSender):
        return sender.pad(max_bytes)
    return await plain_send_padding(sender, max_bytes)
