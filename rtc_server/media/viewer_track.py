"""The track a subscriber's sender holds for the whole connection.

A student's peer connection is negotiated once, but what it shows changes:
the teacher may not have published yet, may switch from camera to screen
share, or may reconnect. A :class:`ViewerTrack` hides that: it delegates to
the :class:`RungTrack` of whichever ladder is current (none: it waits), keeps
the subscriber's rung across ladders, and keeps timestamps moving forward when
the ladder changes, so the receiver sees one continuous stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame
from av.packet import Packet

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
        if sink is not None and self.readyState == "live":
            sink(self._restamp(packet))

    def request_keyframe(self) -> None:
        """A PLI/FIR from this viewer's receiver (see :func:`route_keyframe_requests`)."""
        self.keyframe_requests += 1
        if self._inner is not None:
            self._inner.request_keyframe()

    def stats(self) -> dict[str, Any]:
        inner = self._inner.stats() if self._inner is not None else {}
        return {"requested_rung": self.requested_rung, "rung": self.rung, **inner}

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
            return cast(Packet, self._restamp(packet))

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
