"""One quality rung: a single encoder shared by all of the rung's subscribers.

The encoder runs while the rung has at least one listener (a subscriber on the
rung, or one switching to it) and is torn down when the last one leaves. It
encodes on its own single-thread executor so encodes stay ordered and the
event loop stays free; when encoding falls behind, video rungs skip to the
newest source frame instead of queueing (latency stays bounded, fps drops).

Forced keyframes (PLI/FIR from any subscriber, rung switches, subscribers that
fell behind) are coalesced and rate-limited per rung: at most one per
``min_forced_keyframe_interval_s``; a request inside the interval is kept and
served when the interval ends, or by a natural keyframe before that.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import av

from .encoder import AudioRungEncoder, EncodedPacket, RungEncoder, VideoRungEncoder
from .encoding import AudioRungSpec, Kind, VideoRungSpec

__all__ = ["Rung", "RungListener"]

logger = logging.getLogger(__name__)

#: Source frames a rung may hold before dropping the oldest: video keeps only
#: the newest frame, audio keeps 200 ms so a busy loop does not cut the tone.
PENDING_FRAMES = {"video": 1, "audio": 10}
#: Listeners served between two yields to the event loop during a fan-out.
FANOUT_BATCH = 50


class RungListener(Protocol):
    def _deliver(self, rung: Rung, packet: EncodedPacket) -> None: ...


class Rung:
    """A named rung of a :class:`~rtc_server.media.ladder.Ladder`."""

    def __init__(self, spec: VideoRungSpec | AudioRungSpec, kind: Kind) -> None:
        self.spec = spec
        self.name = spec.name
        self.kind = kind
        self._listeners: set[RungListener] = set()
        self._pending: collections.deque[av.VideoFrame | av.AudioFrame] = collections.deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._encoder: RungEncoder | None = None
        self._force_pending = False
        self._last_forced = float("-inf")
        self._last_accepted_pts_s: float | None = None
        # stats
        self.encoder_starts = 0
        self.frames_encoded = 0
        self.frames_skipped = 0
        self.bytes_encoded = 0
        self.keyframes = 0
        self.keyframes_forced = 0
        self.keyframe_requests = 0
        self.encode_time_s = 0.0

    def __repr__(self) -> str:
        return f"Rung({self.kind}/{self.name}, listeners={len(self._listeners)})"

    @property
    def running(self) -> bool:
        """Whether this rung's encoder is alive."""
        return self._task is not None

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def add(self, listener: RungListener) -> None:
        """Start receiving this rung's packets; starts the encoder if idle."""
        self._listeners.add(listener)
        if self._task is None:
            self._start()

    def remove(self, listener: RungListener) -> None:
        """Stop receiving; the last listener leaving stops the encoder."""
        self._listeners.discard(listener)
        if not self._listeners and self._task is not None:
            self._stop()

    def push(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        """Offer a source frame (called for every source frame, never blocks)."""
        if self._task is None:
            return
        if isinstance(self.spec, VideoRungSpec) and frame.pts is not None and frame.time_base:
            # Cap the rung's frame rate below the source's.
            at_s = float(frame.pts * frame.time_base)
            last = self._last_accepted_pts_s
            if last is not None and 0 <= at_s - last < 0.9 / self.spec.fps:
                return
            self._last_accepted_pts_s = at_s
        if len(self._pending) >= PENDING_FRAMES[self.kind]:
            self._pending.popleft()
            self.frames_skipped += 1
        self._pending.append(frame)
        self._wakeup.set()

    def request_keyframe(self) -> None:
        """Ask for a keyframe soon (coalesced and rate-limited, see module doc)."""
        self.keyframe_requests += 1
        if self.kind == "video":  # every Opus packet already decodes on its own
            self._force_pending = True

    def stats(self) -> dict[str, Any]:
        encoder_time = self.encode_time_s + (self._encoder.encode_time_s if self._encoder else 0.0)
        return {
            "running": self.running,
            "subscribers": len(self._listeners),
            "encoder_starts": self.encoder_starts,
            "frames_encoded": self.frames_encoded,
            "frames_skipped": self.frames_skipped,
            "bytes_encoded": self.bytes_encoded,
            "keyframes": self.keyframes,
            "keyframes_forced": self.keyframes_forced,
            "keyframe_requests": self.keyframe_requests,
            "encode_time_s": round(encoder_time, 3),
            "encode_ms_avg": round(1000 * encoder_time / max(1, self.frames_encoded), 2),
        }

    async def close(self) -> None:
        """Stop the encoder and wait for it, whatever the listeners."""
        self._listeners.clear()
        if self._task is not None:
            self._stop()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _start(self) -> None:
        encoder: RungEncoder
        if isinstance(self.spec, VideoRungSpec):
            encoder = VideoRungEncoder(self.spec)
        else:
            encoder = AudioRungEncoder(self.spec)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rung-{self.name}")
        self._encoder = encoder
        self._pending.clear()
        self._last_accepted_pts_s = None
        self._force_pending = False
        self.encoder_starts += 1
        self._task = asyncio.create_task(self._run(encoder, executor))
        logger.debug("%r encoder started", self)

    def _stop(self) -> None:
        task, self._task = self._task, None
        assert task is not None
        if self._encoder is not None:
            self.encode_time_s += self._encoder.encode_time_s
            self._encoder = None
        self._pending.clear()
        task.cancel()
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        logger.debug("%r encoder stopped", self)

    async def _run(self, encoder: RungEncoder, executor: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        min_interval_s = self.spec.min_forced_keyframe_interval_s
        try:
            while True:
                while not self._pending:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                frame = self._pending.popleft()
                now = time.monotonic()
                force = self._force_pending and now - self._last_forced >= min_interval_s
                packets = await loop.run_in_executor(executor, encoder.encode, frame, force)
                if force:
                    self._last_forced = now
                    self.keyframes_forced += 1
                for packet in packets:
                    self.frames_encoded += 1
                    self.bytes_encoded += len(packet.data)
                    if packet.is_keyframe:
                        self.keyframes += 1
                        self._force_pending = False
                    for i, listener in enumerate(list(self._listeners), 1):
                        listener._deliver(self, packet)
                        if i % FANOUT_BATCH == 0:
                            # Forwarders send as they are handed the packet: let the rest of
                            # the server run between batches of a large fan-out.
                            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("%r encoder failed", self)
        finally:
            # The executor finishes any in-flight encode before closing the encoder.
            executor.submit(encoder.close)
            executor.shutdown(wait=False)
            logger.debug("%r encoder task exited", self)
