"""The encode-once quality ladder of one published track.

A :class:`Ladder` reads its source track (a publisher's incoming track, or a
synthetic one) in one task, always, so the source never backs up, and offers
every frame to its rungs. Each rung owns one encoder that runs only while the
rung has subscribers; every subscriber of a rung shares that encoder's
packets through its own :class:`RungTrack`.

Video rungs are "high" (1080p), "medium" (720p) and "low" (480p) by default,
audio rungs "high"/"medium"/"low" at 128/96/64 kbps. Rungs taller than the
source are not offered; a subscriber asking for one gets the tallest offered
rung (a 720p source: "high" resolves to "medium"). If the source later changes
size, subscribers are moved to what they asked for, resolved again.

When the source ends, every subscriber track ends too (their senders stop).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoding import (
    AUDIO_RUNGS,
    VIDEO_RUNGS,
    AudioRungSpec,
    Kind,
    VideoRungSpec,
    offered_rungs,
    resolve_rung,
)
from .rung import Rung
from .rung_track import RungTrack

__all__ = ["Ladder"]

logger = logging.getLogger(__name__)

#: Per-subscriber queue bounds: ~1 s of video at 30 fps, 0.4 s of audio.
DEFAULT_QUEUE_PACKETS = {"video": 30, "audio": 20}


class Ladder:
    """Rungs of one source track, encoded once each and shared by subscribers.

    :param source_track: the track to read (video or audio frames).
    :param kind: ``"video"`` or ``"audio"``; must match the track.
    :param video_rungs: rung specs for video (name, height, bitrate, fps, ...).
    :param audio_rungs: rung specs for audio (name, bitrate).
    :param queue_packets: per-subscriber queue bound, in packets.
    """

    def __init__(
        self,
        source_track: MediaStreamTrack,
        kind: Kind = "video",
        *,
        video_rungs: tuple[VideoRungSpec, ...] = VIDEO_RUNGS,
        audio_rungs: tuple[AudioRungSpec, ...] = AUDIO_RUNGS,
        queue_packets: int | None = None,
    ) -> None:
        if source_track.kind != kind:
            raise ValueError(f"ladder of kind {kind!r} got a {source_track.kind!r} track")
        self.kind: Kind = kind
        self.source = source_track
        self._video_specs = video_rungs
        specs: tuple[VideoRungSpec | AudioRungSpec, ...] = (
            video_rungs if kind == "video" else audio_rungs
        )
        self._rungs = {spec.name: Rung(spec, kind) for spec in specs}
        self._queue_packets = queue_packets or DEFAULT_QUEUE_PACKETS[kind]
        self._tracks: set[RungTrack] = set()
        self._reader: asyncio.Task[None] | None = None
        self._source_ready = asyncio.Event()
        self.source_size: tuple[int, int] | None = None
        self.source_frames = 0
        self.ended = False

    def __repr__(self) -> str:
        return f"Ladder({self.kind}, source={self.source_size}, tracks={len(self._tracks)})"

    # -- public API -------------------------------------------------------

    def start(self) -> None:
        """Start reading the source (idempotent; :meth:`subscribe` calls it)."""
        if self._reader is None and not self.ended:
            self._reader = asyncio.create_task(self._read())

    @property
    def rung_names(self) -> list[str]:
        """All configured rungs, offered or not."""
        return list(self._rungs)

    def offered(self) -> list[str]:
        """Rungs a subscriber can get, tallest first (all of them for audio)."""
        if self.kind == "audio":
            return list(self._rungs)
        height = self.source_size[1] if self.source_size else None
        return [spec.name for spec in offered_rungs(self._video_specs, height)]

    def resolve(self, requested: str) -> str:
        """The rung a subscriber asking for ``requested`` gets (``KeyError`` if unknown)."""
        if self.kind == "audio":
            if requested not in self._rungs:
                raise KeyError(f"no rung named {requested!r}; known: {sorted(self._rungs)}")
            return requested
        height = self.source_size[1] if self.source_size else None
        return resolve_rung(requested, self._video_specs, offered_rungs(self._video_specs, height))

    def rung(self, name: str) -> Rung:
        return self._rungs[name]

    async def subscribe(self, rung: str, *, source_timeout_s: float = 5.0) -> RungTrack:
        """A new subscriber track on ``rung`` (resolved with :meth:`resolve`).

        Waits up to ``source_timeout_s`` for the first source frame so the
        source size is known; after that, all rungs are assumed offered.
        """
        if self.ended:
            raise MediaStreamError(f"cannot subscribe to {self!r}: source ended")
        self.start()
        if self.kind == "video" and not self._source_ready.is_set():
            try:
                await asyncio.wait_for(self._source_ready.wait(), source_timeout_s)
            except TimeoutError:
                logger.warning("%r no source frame after %.1f s", self, source_timeout_s)
        track = RungTrack(self, self.kind, max_queue_packets=self._queue_packets)
        self._tracks.add(track)
        track.set_rung(rung)
        return track

    @property
    def active_encoders(self) -> int:
        """How many rung encoders are running now."""
        return sum(1 for r in self._rungs.values() if r.running)

    def stats(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source_size": self.source_size,
            "source_frames": self.source_frames,
            "offered": self.offered(),
            "subscribers": len(self._tracks),
            "active_encoders": self.active_encoders,
            "rungs": {name: rung.stats() for name, rung in self._rungs.items()},
        }

    async def stop(self) -> None:
        """Stop reading the source, end every subscriber track, stop encoders."""
        self.ended = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        self._end_tracks()
        await asyncio.gather(*(r.close() for r in self._rungs.values()))

    # -- internals --------------------------------------------------------

    def forget(self, track: RungTrack) -> None:
        """A subscriber track stopped."""
        self._tracks.discard(track)

    def _end_tracks(self) -> None:
        for track in list(self._tracks):
            track.stop()

    def _source_resized(self, width: int, height: int) -> None:
        first = self.source_size is None
        self.source_size = (width, height)
        logger.info("%r source is %dx%d, offering %s", self, width, height, self.offered())
        if not first:
            for track in list(self._tracks):
                if track.requested is not None:
                    track.set_rung(track.requested)

    async def _read(self) -> None:
        logger.debug("%r reader started", self)
        try:
            while True:
                frame = await self.source.recv()
                self.source_frames += 1
                if isinstance(frame, av.VideoFrame):
                    if self.source_size != (frame.width, frame.height):
                        self._source_resized(frame.width, frame.height)
                    self._source_ready.set()
                elif not isinstance(frame, av.AudioFrame):
                    logger.warning("%r ignoring %s from source", self, type(frame).__name__)
                    continue
                for rung in self._rungs.values():
                    rung.push(frame)
        except asyncio.CancelledError:
            pass
        except MediaStreamError:
            logger.info("%r source ended", self)
        except Exception:
            logger.exception("%r reader failed", self)
        finally:
            self.ended = True
            self._end_tracks()
            for rung in self._rungs.values():
                await rung.close()
            logger.debug("%r reader exited", self)
