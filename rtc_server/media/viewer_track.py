"""The track a subscriber's sender holds for the whole connection.

A student's peer connection is negotiated once, but what it shows changes:
the teacher may not have published yet, may switch from camera to screen
share, or may reconnect. A :class:`ViewerTrack` hides that: it delegates to
the :class:`RungTrack` of whichever ladder is current (none: it waits), keeps
the subscriber's rung across ladders, and keeps timestamps moving forward when
the ladder changes, so the receiver sees one continuous stream.

Below the lowest rung (the ladder's floor, :mod:`adaptive.levels`) a video
track forwards only some of the low rung's frames: its :class:`LayerGate`
drops VP8 enhancement layers (half or a quarter of the frame rate) or all
but keyframes (audio with a still picture). Dropped frames are never handed
to the sender, so the viewer's RTP stream stays contiguous. While only
keyframes are wanted the viewer's own keyframe requests (a receiver asks
when it sees no frame for a few seconds) are not passed on: they would
force keyframes on every viewer of the rung.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame
from av.packet import Packet

from adaptive.levels import QualityLevel
from adaptive.temporal_layers import LayerGate

from .encoder import EncodedPacket
from .encoding import Kind

if TYPE_CHECKING:
    from .ladder import Ladder
    from .rung_track import RungTrack

__all__ = ["ViewerTrack"]

logger = logging.getLogger(__name__)

_MIN_STEP = {"video": 3000, "audio": 960}  # one frame at 90 kHz / 20 ms at 48 kHz


class ViewerTrack(MediaStreamTrack):
    def __init__(self, kind: Kind, rung: str, *, name: str = "") -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.requested_rung = rung
        self._inner: RungTrack | None = None
        self._ladder: Ladder | None = None
        self._changed = asyncio.Event()
        self._offset = 0
        self._last_pts: int | None = None
        self._rebase = False
        self._sink: Callable[[EncodedPacket], None] | None = None
        self.keyframe_requests = 0
        self.keyframe_requests_held = 0
        #: What this viewer was given (after the layer gate), for the sent rate.
        self.packets_forwarded = 0
        self.bytes_forwarded = 0
        #: Which frames this viewer gets of a layered rung (video only).
        self.gate = LayerGate()
        #: Called with every keyframe forwarded (the estimator's keyframe window).
        self.on_keyframe: Callable[[EncodedPacket], None] | None = None

    def __repr__(self) -> str:
        return f"ViewerTrack({self.name} {self.kind} {self.rung})"

    @property
    def rung(self) -> str | None:
        """The rung being delivered now (None while nothing is published)."""
        return self._inner.rung if self._inner is not None else None

    @property
    def ladder(self) -> Ladder | None:
        return self._ladder

    async def attach(self, ladder: Ladder) -> None:
        """Show ``ladder`` from its next keyframe on (replacing any current one)."""
        if self.readyState != "live":
            return
        inner = await ladder.subscribe(self.requested_rung)
        old, self._inner, self._ladder = self._inner, inner, ladder
        if old is not None:
            old.stop()
        self._rebase = True
        if self._sink is not None:
            inner.set_sink(self._from_inner)
        self._changed.set()

    def detach(self, ladder: Ladder | None = None) -> None:
        """Stop showing ``ladder`` (or whatever is shown); wait for the next one."""
        if ladder is not None and ladder is not self._ladder:
            return
        inner, self._inner, self._ladder = self._inner, None, None
        if inner is not None:
            inner.stop()
        self._changed.set()

    def set_rung(self, name: str, *, urgent: bool = False) -> str | None:
        """Switch rung at the next keyframe; returns the rung chosen (None: nothing shown)."""
        self.requested_rung = name
        if self._inner is not None:
            return self._inner.set_rung(name, urgent=urgent)
        return None

    def set_sink(self, sink: Callable[[EncodedPacket], None] | None) -> None:
        """Hand packets (re-stamped for continuity) to ``sink`` as they come instead of
        through :meth:`recv`, whichever ladder is attached now or later."""
        self._sink = sink
        if self._inner is not None:
            self._inner.set_sink(self._from_inner if sink is not None else None)

    def _from_inner(self, packet: EncodedPacket) -> None:
        sink = self._sink
        inner = self._inner
        if sink is not None and inner is not None and self.readyState == "live" and (
                self._admit(packet, inner)):
            sink(self._restamp(packet))

    def set_level(self, level: QualityLevel) -> None:
        """Forward the frames ``level`` asks for (its temporal layers; keyframes alone)."""
        self.gate.set_level(level)
        if self.gate.needs_keyframe and self._inner is not None:
            self._inner.request_keyframe()  # leaving audio-only: LAST is stale

    def request_keyframe(self) -> None:
        """A PLI/FIR from this viewer's receiver (see :func:`route_keyframe_requests`)."""
        self.keyframe_requests += 1
        if self.gate.keyframes_only:
            self.keyframe_requests_held += 1  # the next periodic keyframe serves it
            return
        if self._inner is not None:
            self._inner.request_keyframe()

    def stats(self) -> dict[str, Any]:
        inner = self._inner.stats() if self._inner is not None else {}
        layers = ({"layers": self.gate.layers, "keyframes_only": self.gate.keyframes_only,
                   "frames_dropped_by_layer": self.gate.dropped}
                  if self.kind == "video" else {})
        return {"requested_rung": self.requested_rung, "rung": self.rung, **inner, **layers,
                "packets_forwarded": self.packets_forwarded,
                "bytes_forwarded": self.bytes_forwarded}

    async def recv(self) -> Frame | Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            inner = self._inner
            if inner is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                packet = cast(EncodedPacket, await inner.recv())
            except MediaStreamError:
                if inner is self._inner:  # the ladder ended under us; wait for the next
                    self._inner = None
                continue
            if inner is not self._inner:
                continue  # replaced while waiting: drop the old ladder's packet
            if self._admit(packet, inner):
                return cast(Packet, self._restamp(packet))

    def _admit(self, packet: EncodedPacket, inner: RungTrack) -> bool:
        """Whether this viewer gets ``packet`` (its layer gate), counting what it gets."""
        if self.kind == "video":
            if not self.gate.forward(packet.temporal_id, packet.is_keyframe):
                if self.gate.needs_keyframe:
                    inner.request_keyframe()  # rate-limited by the rung
                return False
            if packet.is_keyframe and self.on_keyframe is not None:
                self.on_keyframe(packet)
        self.packets_forwarded += 1
        self.bytes_forwarded += len(packet.data)
        return True

    def _restamp(self, packet: EncodedPacket) -> EncodedPacket:
        if self._rebase:
            # A new ladder has its own clock: continue one frame after the last packet.
            self._rebase = False
            if self._last_pts is not None:
                self._offset = self._last_pts + _MIN_STEP[self.kind] - packet.pts
        pts = packet.pts + self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + _MIN_STEP[self.kind]
            self._offset = pts - packet.pts
        self._last_pts = pts
        return packet.with_pts(pts)

    def stop(self) -> None:
        self.detach()
        self._sink = None
        super().stop()
        self._changed.set()
