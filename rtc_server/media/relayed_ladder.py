"""A ladder whose rungs are encoded in another process: the edge side of the media relay.

A :class:`RelayedLadder` stands in for the publisher's :class:`~.ladder.Ladder`
on a worker (or machine) that does not hold the publisher. Viewers attach to
it exactly as to a local ladder (:meth:`Ladder.subscribe`, rung switches at
keyframes, ``RungTrack``/``ViewerTrack`` unchanged); only where a rung's
encoded frames come from differs. A :class:`RemoteRung` has no encoder: while
it has listeners it asks the origin for its rung (the relay's demand
registry) and hands each relayed frame to its listeners, as a local rung
hands each encoded frame; keyframe requests go to the origin's rung encoder,
which rate-limits them as it does for local viewers.

Frames carry a per-stream sequence number. A gap (a frame lost in transit, or
dropped because this process fell behind) makes the rung wait for the next
keyframe and ask the origin for one, so no viewer decodes a frame whose
reference it never got.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoder import EncodedPacket
from .encoding import AUDIO_RUNGS, VIDEO_RUNGS, Kind
from .ladder import Ladder
from .rung import Rung, RungListener

__all__ = ["RelayLink", "RelayedLadder", "RemoteRung"]

logger = logging.getLogger(__name__)

#: Keyframe requests sent to the origin per rung at most this often (the origin's rung
#: coalesces and rate-limits them again; this only keeps a storm of PLIs off Redis).
KEYFRAME_REQUEST_INTERVAL_S = 0.1


class RelayLink(Protocol):
    """What a remote rung needs of the relay (:class:`~.relay.MediaRelay`)."""

    def want(self, rung: RemoteRung) -> None: ...

    def unwant(self, rung: RemoteRung) -> None: ...

    def request_keyframe(self, rung: RemoteRung) -> None: ...


class _NoSource(MediaStreamTrack):
    """The placeholder source of a relayed ladder (its frames arrive already encoded)."""

    def __init__(self, kind: Kind) -> None:
        super().__init__()
        self.kind = kind

    async def recv(self) -> Any:
        raise MediaStreamError


class RemoteRung(Rung):
    """A rung whose encoder runs at the origin; frames arrive through the relay."""

    def __init__(self, ladder: RelayedLadder, base: Rung, link: RelayLink) -> None:
        super().__init__(base.spec, base.kind)
        self.ladder = ladder
        self._link = link
        self._subscribed = False
        self._epoch: int | None = None
        self._seq: int | None = None
        self._waiting_keyframe = True
        self._last_key_request = float("-inf")
        # stats
        self.frames_received = 0
        self.frames_lost = 0
        self.frames_dropped = 0
        self.bytes_received = 0
        self.relay_delay_ms_total = 0.0
        self.relay_delay_ms_max = 0.0

    def __repr__(self) -> str:
        return f"RemoteRung({self.kind}/{self.name}, listeners={self.listener_count})"

    @property
    def running(self) -> bool:
        """Whether frames of this rung are being relayed here."""
        return self._subscribed

    @property
    def session_id(self) -> str:
        return self.ladder.session_id

    @property
    def ladder_id(self) -> str:
        return self.ladder.ladder_id

    def add(self, listener: RungListener) -> None:
        self._listeners.add(listener)
        if not self._subscribed:
            self._subscribed = True
            self._epoch = self._seq = None
            self._waiting_keyframe = True
            self._link.want(self)

    def remove(self, listener: RungListener) -> None:
        self._listeners.discard(listener)
        if not self._listeners and self._subscribed:
            self._subscribed = False
            self._link.unwant(self)

    def push(self, frame: Any) -> None:  # never called: a relayed ladder reads no source
        pass

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        if self.kind != "video":
            return
        now = time.monotonic()
        if now - self._last_key_request >= KEYFRAME_REQUEST_INTERVAL_S:
            self._last_key_request = now
            self._link.request_keyframe(self)

    def receive(self, epoch: int, seq: int, packet: EncodedPacket, sent_s: float) -> None:
        """One relayed frame (in the origin's order; called by the relay's reader)."""
        if not self._subscribed:
            return
        if epoch != self._epoch:
            # A new stream from the origin (its relay tap restarted): start at a keyframe.
            self._epoch, self._seq = epoch, None
            self._waiting_keyframe = True
        elif self._seq is not None and seq != self._seq + 1:
            if seq <= self._seq:
                return  # a duplicate or reordered frame: never deliver backwards
            self.frames_lost += seq - self._seq - 1
            self._waiting_keyframe = True
            logger.info("%r lost %d frame(s); waiting for a keyframe", self,
                        seq - self._seq - 1)
        self._seq = seq
        self.frames_received += 1
        self.bytes_received += len(packet.data)
        delay_ms = max(0.0, 1000 * (time.time() - sent_s))
        self.relay_delay_ms_total += delay_ms
        self.relay_delay_ms_max = max(self.relay_delay_ms_max, delay_ms)
        if self._waiting_keyframe:
            if not packet.is_keyframe:
                self.frames_dropped += 1
                self.request_keyframe()
                return
            self._waiting_keyframe = False
        self.frames_encoded += 1  # "frames delivered to listeners", as for a local rung
        self.bytes_encoded += len(packet.data)
        if packet.is_keyframe:
            self.keyframes += 1
        for listener in list(self._listeners):
            listener._deliver(self, packet)

    def stats(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "relayed": True,
            "subscribers": len(self._listeners),
            "frames_received": self.frames_received,
            "frames_lost": self.frames_lost,
            "frames_dropped": self.frames_dropped,
            "bytes_received": self.bytes_received,
            "keyframes": self.keyframes,
            "keyframe_requests": self.keyframe_requests,
            "relay_delay_ms_avg": round(self.relay_delay_ms_total
                                        / max(1, self.frames_received), 2),
            "relay_delay_ms_max": round(self.relay_delay_ms_max, 2),
        }

    async def close(self) -> None:
        self._listeners.clear()
        if self._subscribed:
            self._subscribed = False
            self._link.unwant(self)


class RelayedLadder(Ladder):
    """The rungs of a ladder encoded elsewhere, as the announcement describes them.

    :param announcement: the origin's description (``ladder``, ``node``, ``kind``,
        ``height``, ``width``): see :class:`~.relay.MediaRelay`.
    """

    def __init__(self, session_id: str, announcement: dict[str, Any], link: RelayLink) -> None:
        kind: Kind = "video" if announcement["kind"] == "video" else "audio"
        super().__init__(_NoSource(kind), kind, video_rungs=VIDEO_RUNGS, audio_rungs=AUDIO_RUNGS)
        self.session_id = session_id
        self.ladder_id: str = announcement["ladder"]
        self.origin_node: str = announcement["node"]
        self.announcement = announcement
        self._rungs = {name: RemoteRung(self, base, link) for name, base in self._rungs.items()}
        if announcement.get("width") and announcement.get("height"):
            self.source_size = (int(announcement["width"]), int(announcement["height"]))
        self._source_ready.set()  # the size is known (or, for audio, irrelevant)

    def __repr__(self) -> str:
        return (f"RelayedLadder({self.kind}, {self.ladder_id} from {self.origin_node}, "
                f"tracks={len(self._tracks)})")

    def start(self) -> None:
        """Nothing to read: frames arrive through the relay."""

    def resized(self, width: int, height: int) -> None:
        """The origin's source changed size: re-resolve what subscribers asked for."""
        if self.source_size != (width, height):
            self._source_resized(width, height)

    def remote_rungs(self) -> list[RemoteRung]:
        return [r for r in self._rungs.values() if isinstance(r, RemoteRung)]

    def stats(self) -> dict[str, Any]:
        return super().stats() | {"relayed_from": self.origin_node, "ladder": self.ladder_id}

    async def stop(self) -> None:
        self.ended = True
        self._end_tracks()
        for rung in self.remote_rungs():
            await rung.close()
