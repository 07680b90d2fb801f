"""Synthetic publisher sources for tests and load benchmarks.

:class:`SyntheticVideoTrack` draws a moving test pattern with a burned-in
frame counter and capture time (wall-clock ms). The code is a grid of
black/white cells in the top band of the picture, sized relative to the frame
so it survives VP8 at ladder bitrates and downscaling from 1080p to 480p;
:func:`read_burned_in` reads it back from a decoded frame, which is how the
benchmarks measure glass-to-glass latency.

Code layout: ``CODE_ROWS`` x ``CODE_COLS`` cells = 32-bit counter, 48-bit
timestamp, 16-bit checksum, most significant bit first, row by row.
"""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoding import OPUS_FRAME_SAMPLES, OPUS_SAMPLE_RATE_HZ

__all__ = ["SyntheticAudioTrack", "SyntheticVideoTrack", "read_burned_in"]

VIDEO_CLOCK_HZ = 90000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_HZ)
AUDIO_TIME_BASE = fractions.Fraction(1, OPUS_SAMPLE_RATE_HZ)

CODE_ROWS = 2
CODE_COLS = 48
CODE_BAND_FRACTION = 0.16  # of the frame height, for all code rows together
_COUNTER_BITS = 32
_TIMESTAMP_BITS = 48
_CHECK_BITS = 16
_NOISE_TABLES = 8
_NOISE_AMPLITUDE = 12


def _checksum(counter: int, timestamp_ms: int) -> int:
    value = (counter * 0x9E3779B1 + timestamp_ms * 0x85EBCA77) & 0xFFFFFFFFFFFF
    return (value ^ (value >> 16) ^ (value >> 32)) & 0xFFFF


def _code_bits(counter: int, timestamp_ms: int) -> np.ndarray:
    word = (
        ((counter & 0xFFFFFFFF) << (_TIMESTAMP_BITS + _CHECK_BITS))
        | ((timestamp_ms & 0xFFFFFFFFFFFF) << _CHECK_BITS)
        | _checksum(counter & 0xFFFFFFFF, timestamp_ms & 0xFFFFFFFFFFFF)
    )
    total = CODE_ROWS * CODE_COLS
    bits = [(word >> (total - 1 - i)) & 1 for i in range(total)]
    return np.array(bits, dtype=np.uint8).reshape(CODE_ROWS, CODE_COLS)


def _cell_edges(length: int, cells: int) -> np.ndarray:
    return np.linspace(0, length, cells + 1).round().astype(int)


class SyntheticVideoTrack(MediaStreamTrack):
    """A paced moving test pattern with a burned-in counter and capture time.

    Frames are yuv420p, ``width`` x ``height`` at ``fps``, with pts in a
    90 kHz time base. ``noise`` adds camera-like grain from a few precomputed
    tables, which keeps the encoder honest in benchmarks.
    """

    kind = "video"

    def __init__(self, width: int, height: int, fps: float, *, noise: bool = True) -> None:
        super().__init__()
        if width % 2 or height % 2:
            raise ValueError(f"size must be even for yuv420p, got {width}x{height}")
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_generated = 0
        self._start: float | None = None
        self._band_h = max(CODE_ROWS * 2, round(height * CODE_BAND_FRACTION))
        self._row_edges = _cell_edges(self._band_h, CODE_ROWS)
        self._col_edges = _cell_edges(width, CODE_COLS)
        # Twice as wide as the frame so each frame is a cheap slice, not a roll.
        ramp = (np.arange(2 * width) * 255 // max(1, width - 1)) % 256
        rows = (np.arange(height) * 96 // max(1, height - 1)).reshape(-1, 1)
        self._gradient = ((ramp.reshape(1, -1) // 2 + rows) % 220 + 16).astype(np.uint8)
        rng = np.random.default_rng(1)
        self._noise: list[np.ndarray] = []
        if noise:
            self._noise = [
                rng.integers(-_NOISE_AMPLITUDE, _NOISE_AMPLITUDE + 1, (height, width)).astype(
                    np.int16
                )
                for _ in range(_NOISE_TABLES)
            ]
        chroma = np.zeros((height // 2, width), dtype=np.uint8)
        chroma[: height // 4] = 96  # U plane (two rows of width/2 per image row)
        chroma[height // 4 :] = 160  # V plane
        self._chroma = chroma

    def render(self, counter: int, timestamp_ms: int) -> av.VideoFrame:
        """Draw frame number ``counter`` stamped with ``timestamp_ms``."""
        w, h = self.width, self.height
        shift = (counter * 4) % w
        luma = self._gradient[:, shift : shift + w]
        if self._noise:
            noisy = luma + self._noise[counter % len(self._noise)]
            luma = np.clip(noisy, 0, 255).astype(np.uint8)
        else:
            luma = luma.copy()
        box = max(16, h // 6)
        bx = (counter * 8) % max(1, w - box)
        by = self._band_h + (counter * 3) % max(1, h - self._band_h - box)
        luma[by : by + box, bx : bx + box] = 235
        bits = _code_bits(counter, timestamp_ms)
        for r in range(CODE_ROWS):
            y0, y1 = self._row_edges[r], self._row_edges[r + 1]
            for c in range(CODE_COLS):
                x0, x1 = self._col_edges[c], self._col_edges[c + 1]
                luma[y0:y1, x0:x1] = 255 if bits[r, c] else 0
        image = np.concatenate([luma, self._chroma])
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts = round(counter * VIDEO_CLOCK_HZ / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        return frame

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        counter = self.frames_generated
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + counter / self.fps - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self.frames_generated += 1
        return self.render(counter, int(time.time() * 1000))


def read_burned_in(frame: av.VideoFrame) -> tuple[int, int] | None:
    """``(counter, timestamp_ms)`` burned into ``frame``, or None if unreadable.

    Works at any size the pattern was scaled to: cells are located by their
    position relative to the frame, and each is read as the mean of its
    central region, thresholded at mid grey. The checksum rejects misreads.
    """
    luma = frame.to_ndarray(format="gray")
    height, width = luma.shape
    band_h = max(CODE_ROWS * 2, round(height * CODE_BAND_FRACTION))
    row_edges = _cell_edges(band_h, CODE_ROWS)
    col_edges = _cell_edges(width, CODE_COLS)
    word = 0
    for r in range(CODE_ROWS):
        y0, y1 = row_edges[r], row_edges[r + 1]
        ym0, ym1 = y0 + (y1 - y0) // 4, y1 - (y1 - y0) // 4
        for c in range(CODE_COLS):
            x0, x1 = col_edges[c], col_edges[c + 1]
            xm0, xm1 = x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4
            cell = luma[ym0 : max(ym1, ym0 + 1), xm0 : max(xm1, xm0 + 1)]
            word = (word << 1) | int(cell.mean() >= 128)
    check = word & 0xFFFF
    timestamp_ms = (word >> _CHECK_BITS) & 0xFFFFFFFFFFFF
    counter = word >> (_TIMESTAMP_BITS + _CHECK_BITS)
    if _checksum(counter, timestamp_ms) != check:
        return None
    return counter, timestamp_ms


class SyntheticAudioTrack(MediaStreamTrack):
    """A paced sine tone: 48 kHz mono s16, 20 ms frames, pts in samples."""

    kind = "audio"

    def __init__(self, freq_hz: float = 440.0, *, amplitude: float = 0.3) -> None:
        super().__init__()
        self.freq_hz = freq_hz
        self.amplitude = amplitude
        self.frames_generated = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        index = self.frames_generated
        if self._start is None:
            self._start = time.monotonic()
        else:
            period_s = OPUS_FRAME_SAMPLES / OPUS_SAMPLE_RATE_HZ
            wait = self._start + index * period_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self.frames_generated += 1
        first = index * OPUS_FRAME_SAMPLES
        t = (np.arange(first, first + OPUS_FRAME_SAMPLES)) / OPUS_SAMPLE_RATE_HZ
        wave = self.amplitude * np.sin(2 * np.pi * self.freq_hz * t)
        samples = (wave * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = OPUS_SAMPLE_RATE_HZ
        frame.pts = first
        frame.time_base = AUDIO_TIME_BASE
        return frame
