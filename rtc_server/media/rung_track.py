"""A subscriber's view of a ladder: the track given to its RTCRtpSender.

``recv()`` returns the shared :class:`EncodedPacket` of the current rung
(re-stamped per subscriber), which ``RTCRtpSender`` packetises without
encoding. Each subscriber has a bounded queue: a subscriber whose sender
falls behind loses its backlog and waits for the next keyframe (and asks the
rung for one) instead of growing memory.

Rung switches are seamless: :meth:`RungTrack.set_rung` keeps delivering the
old rung and listens to the new one until the new rung produces a keyframe
(requested at once, rate-limited by the rung), then cuts over on that
keyframe. Timestamps are rewritten so they never go backwards for the
subscriber, whatever the rungs' clocks.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame
from av.packet import Packet

from .encoder import EncodedPacket
from .encoding import Kind

if TYPE_CHECKING:
    from .rung import Rung


class RungSource(Protocol):
    """What a track needs of its :class:`~.ladder.Ladder` (kept abstract: the ladder
    imports this module, so naming it here would make an import cycle)."""

    def resolve(self, requested: str) -> str: ...

    def rung(self, name: str) -> Rung: ...

    def forget(self, track: RungTrack) -> None: ...

__all__ = ["RungTrack"]

logger = logging.getLogger(__name__)

#: Minimal timestamp step forced when a switch would repeat or rewind a
#: timestamp: one 30 fps frame at 90 kHz, one 20 ms Opus frame at 48 kHz.
_MIN_STEP = {"video": 3000, "audio": 960}


class RungTrack(MediaStreamTrack):
    """Per-subscriber track fed by one rung of a :class:`Ladder`.

    Create it with :meth:`Ladder.subscribe`; add it to the subscriber's
    RTCPeerConnection with :func:`rtc_server.media.add_rung_track`.
    """

    def __init__(self, ladder: RungSource, kind: Kind, *, max_queue_packets: int) -> None:
        super().__init__()
        self.kind = kind
        self._ladder = ladder
        self._max_queue = max_queue_packets
        self._queue: collections.deque[EncodedPacket] = collections.deque()
        self._ready = asyncio.Event()
        self._rung: Rung | None = None
        self._switching_to: Rung | None = None
        self._waiting_keyframe = True
        self._pts_offset = 0
        self._last_pts: int | None = None
        self._sink: Callable[[EncodedPacket], None] | None = None
        #: The rung name the subscriber asked for (may be above what is offered).
        self.requested: str | None = None
        # stats
        self.packets_sent = 0
        self.bytes_sent = 0
        self.packets_dropped = 0
        self.switches = 0
        self.keyframe_requests = 0

    def __repr__(self) -> str:
        return f"RungTrack({self.kind}, rung={self.rung}, switching_to={self.switching_to})"

    @property
    def rung(self) -> str | None:
        """Name of the rung being delivered (None before the first subscription)."""
        return self._rung.name if self._rung else None

    @property
    def switching_to(self) -> str | None:
        """Name of the rung a pending switch waits a keyframe from, if any."""
        return self._switching_to.name if self._switching_to else None

    def set_rung(self, name: str, *, urgent: bool = False) -> str:
        """Switch to rung ``name`` at its next keyframe; returns the rung chosen.

        A rung above the source resolution resolves to the highest offered
        rung (see :meth:`Ladder.resolve`). Unknown names raise ``KeyError``.
        ``urgent`` (a congested link stepping down): stop the old rung at once instead of
        sending it until the new keyframe, so the link drains and that keyframe gets
        through; the viewer holds its last frame for that moment.
        """
        if self.readyState != "live":
            raise MediaStreamError(f"cannot switch rung of a track in state {self.readyState!r}")
        self.requested = name
        target = self._ladder.rung(self._ladder.resolve(name))
        if urgent and self._rung is not None and target is not self._rung:
            for rung in (self._rung, self._switching_to):
                if rung is not None and rung is not target:
                    rung.remove(self)
            self._switching_to = None
            self.packets_dropped += len(self._queue)
            self._queue.clear()
            self._rung = None
            self.switches += 1
        if self._switching_to is not None and self._switching_to is not target:
            self._switching_to.remove(self)
            self._switching_to = None
        if self._rung is None:
            self._rung = target
            self._waiting_keyframe = True
            target.add(self)
            target.request_keyframe()
        elif target is not self._rung and target is not self._switching_to:
            self._switching_to = target
            target.add(self)
            target.request_keyframe()
        return target.name

    def request_keyframe(self) -> None:
        """A keyframe request (PLI/FIR) from this subscriber's receiver."""
        self.keyframe_requests += 1
        rung = self._switching_to or self._rung
        if rung is not None:
            rung.request_keyframe()

    def stats(self) -> dict[str, Any]:
        return {
            "rung": self.rung,
            "switching_to": self.switching_to,
            "queued": len(self._queue),
            "packets_sent": self.packets_sent,
            "bytes_sent": self.bytes_sent,
            "packets_dropped": self.packets_dropped,
            "switches": self.switches,
            "keyframe_requests": self.keyframe_requests,
        }

    def set_sink(self, sink: Callable[[EncodedPacket], None] | None) -> None:
        """Hand packets to ``sink`` as the rung delivers them, instead of queueing them for
        :meth:`recv` (the forwarding sender: no queue, no task wake-up per packet).
        Anything queued so far goes to the sink first; None goes back to queueing."""
        self._sink = sink
        if sink is not None:
            while self._queue:
                packet = self._restamp(self._queue.popleft())
                self._count(packet)
                sink(packet)

    def _count(self, packet: EncodedPacket) -> None:
        self.packets_sent += 1
        self.bytes_sent += len(packet.data)

    async def recv(self) -> Frame | Packet:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        packet = self._restamp(self._queue.popleft())
        self._count(packet)
        # RTCRtpSender only uses bytes(), .pts and .time_base of a non-Frame
        # (Vp8Encoder.pack / OpusEncoder.pack), so the shared packet stands in
        # for an av.Packet without copying its payload per subscriber.
        return cast(Packet, packet)

    def stop(self) -> None:
        if self.readyState == "live":
            for rung in (self._rung, self._switching_to):
                if rung is not None:
                    rung.remove(self)
            self._ladder.forget(self)
        self._sink = None
        self._queue.clear()
        super().stop()
        self._ready.set()

    def _deliver(self, rung: Rung, packet: EncodedPacket) -> None:
        if rung is self._switching_to:
            if not packet.is_keyframe:
                return
            old, self._rung, self._switching_to = self._rung, rung, None
            if old is not None:
                old.remove(self)
            self._waiting_keyframe = False
            self.switches += 1
            logger.debug("%r switched from %s", self, old.name if old else None)
        elif rung is not self._rung:
            return
        elif self._waiting_keyframe:
            if not packet.is_keyframe:
                self.packets_dropped += 1
                return
            self._waiting_keyframe = False
        if self._sink is not None:
            # Sent as it comes: a viewer whose socket backs up skips to a keyframe in its
            # sender (ForwardingSender.BACKLOG_LIMIT_BYTES), not here.
            out = self._restamp(packet)
            self._count(out)
            self._sink(out)
            return
        if len(self._queue) >= self._max_queue:
            # Too far behind: drop the backlog and restart at a keyframe.
            self.packets_dropped += len(self._queue)
            self._queue.clear()
            if not packet.is_keyframe:
                self.packets_dropped += 1
                self._waiting_keyframe = True
                rung.request_keyframe()
                return
        self._queue.append(packet)
        self._ready.set()

    def _restamp(self, packet: EncodedPacket) -> EncodedPacket:
        pts = packet.pts + self._pts_offset
        if self._last_pts is not None and pts <= self._last_pts:
            step = _MIN_STEP[self.kind]
            self._pts_offset += self._last_pts + step - pts
            pts = self._last_pts + step
        self._last_pts = pts
        return packet.with_pts(pts)
