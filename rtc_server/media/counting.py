"""Receiving video without decoding it, for load bots and tests.

A :class:`CountingReceiver` takes the encoded frames an ``RTCRtpReceiver``
reassembles (after the jitter buffer, NACK and PLI handling, which keep
working) and counts frames, bytes and keyframes instead of decoding them.
Keyframe sizes come from the VP8 keyframe header. The burned-in counter and
capture time of :mod:`rtc_server.media.synthetic` are read only on request:
:meth:`CountingReceiver.sample` decodes the next keyframe alone, on a worker
thread, so latency samples are taken from keyframes (see
docs/benchmarks.md (section 5) for what that means for the figures).

aiortc decodes every received track and offers no way to get encoded frames;
:meth:`CountingReceiver.attach` diverts them with
:func:`rtc_server.patches.divert_encoded_frames` (the workaround lives there).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from rtc_server.patches import divert_encoded_frames

from .encoding import parse_vp8_keyframe_size
from .synthetic import read_burned_in

__all__ = ["BurnedInSample", "CountingReceiver", "add_counting_transceiver"]


@dataclass(frozen=True)
class BurnedInSample:
    """One glass-to-glass reading: frame ``counter`` captured at ``capture_ms``."""

    counter: int
    capture_ms: int
    arrival_ms: int
    width: int
    height: int

    @property
    def latency_ms(self) -> int:
        return self.arrival_ms - self.capture_ms


class CountingReceiver:
    """Counts frames of one remote track without decoding them."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        #: Longest silence between two frames so far (a freeze, seen by a viewer).
        self.max_gap_s = 0.0
        self.frame_size: tuple[int, int] | None = None
        self.keyframe_sizes: list[tuple[int, int]] = []
        self.mime_type: str | None = None
        self._keyframe_waiters: list[asyncio.Future[tuple[bytes, int]]] = []
        self._progress = asyncio.Event()

    @classmethod
    def attach(cls, receiver: RTCRtpReceiver) -> CountingReceiver:
        """Make ``receiver`` count instead of decode; call before it starts.

        That is: on the client, right after ``addTransceiver``; on the
        answering side, in the ``pc.on("track")`` handler.
        """
        counter = cls()
        divert_encoded_frames(receiver, counter._on_frame)
        return counter

    def stats(self) -> dict[str, Any]:
        elapsed = (
            (self.last_frame_at - self.first_frame_at)
            if self.first_frame_at is not None and self.last_frame_at is not None
            else 0.0
        )
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "keyframes": self.keyframes,
            "frame_size": self.frame_size,
            "max_gap_s": round(self.max_gap_s, 3),
            "fps": round((self.frames - 1) / elapsed, 2) if elapsed > 0 else 0.0,
        }

    async def wait_frames(self, count: int, timeout_s: float) -> None:
        """Wait until ``count`` frames in all have arrived (``TimeoutError`` after)."""
        async with asyncio.timeout(timeout_s):
            while self.frames < count:
                self._progress.clear()
                await self._progress.wait()

    async def next_keyframe(self, timeout_s: float) -> tuple[bytes, int]:
        """The next keyframe's bytes and its arrival (wall-clock ms)."""
        waiter: asyncio.Future[tuple[bytes, int]] = asyncio.get_running_loop().create_future()
        self._keyframe_waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        finally:
            if waiter in self._keyframe_waiters:
                self._keyframe_waiters.remove(waiter)

    async def sample(self, timeout_s: float = 10.0) -> BurnedInSample | None:
        """Decode the next keyframe and read its burned-in counter and time.

        None if the frame carries no readable code (not a synthetic source).
        """
        data, arrival_ms = await self.next_keyframe(timeout_s)
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(None, _decode_keyframe, data)
        if decoded is None:
            return None
        code = read_burned_in(decoded)
        if code is None:
            return None
        return BurnedInSample(code[0], code[1], arrival_ms, decoded.width, decoded.height)

    def _on_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        now = time.monotonic()
        if self.first_frame_at is None:
            self.first_frame_at = now
        elif self.last_frame_at is not None:
            self.max_gap_s = max(self.max_gap_s, now - self.last_frame_at)
        self.last_frame_at = now
        self.frames += 1
        self.bytes += len(frame.data)
        self._progress.set()
        self.mime_type = codec.mimeType
        if codec.mimeType.lower() != "video/vp8":
            return
        size = parse_vp8_keyframe_size(frame.data)
        if size is None:
            return
        self.keyframes += 1
        self.frame_size = size
        self.keyframe_sizes.append(size)
        if self._keyframe_waiters:
            arrival_ms = int(time.time() * 1000)
            for waiter in self._keyframe_waiters:
                if not waiter.done():
                    waiter.set_result((frame.data, arrival_ms))
            self._keyframe_waiters.clear()


def add_counting_transceiver(pc: RTCPeerConnection, kind: str = "video") -> CountingReceiver:
    """Add a recvonly transceiver to ``pc`` (the offerer) that counts frames."""
    transceiver = pc.addTransceiver(kind, direction="recvonly")
    return CountingReceiver.attach(transceiver.receiver)


def _decode_keyframe(data: bytes) -> av.VideoFrame | None:
    decoder = av.CodecContext.create("libvpx", "r")
    try:
        frames = decoder.decode(av.Packet(data))
    except av.FFmpegError:
        return None
    for frame in frames:
        if isinstance(frame, av.VideoFrame):
            return frame
    return None
