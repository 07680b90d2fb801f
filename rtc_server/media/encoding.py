"""Encoder settings per rung and VP8 bitstream helpers (pure: no asyncio, no clocks).

The numbers below come from ``scripts/bench_encoders.py`` on the 2-core
reference machine; ``docs/benchmarks.md (section 5)`` explains the choice.

Rung sizes are given by height; the width follows the source aspect ratio.
A rung taller than the source is not offered (see :func:`offered_rungs`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from adaptive.levels import TEMPORAL_LAYER_SHARE, TEMPORAL_LAYERS

__all__ = [
    "AUDIO_RUNGS",
    "VIDEO_RUNGS",
    "AudioRungSpec",
    "Kind",
    "VideoRungSpec",
    "offered_rungs",
    "parse_vp8_keyframe_size",
    "resolve_rung",
    "scaled_size",
    "temporal_layer_options",
]

Kind = Literal["video", "audio"]

#: Opus works on 20 ms frames at 48 kHz (RFC 7587 clock).
OPUS_SAMPLE_RATE_HZ = 48000
OPUS_FRAME_SAMPLES = 960


@dataclass(frozen=True, kw_only=True)
class VideoRungSpec:
    """One video rung and the libvpx settings of its single shared encoder.

    ``cpu_used`` is libvpx's speed knob (``-cpu-used``; in realtime mode higher
    is faster and blurrier, 16 is the fastest). ``threads`` is libvpx's own
    slice threading; with 2 cores we keep 1 and run rungs in parallel instead.
    """

    name: str
    height_px: int
    bitrate_bps: int
    fps: float
    cpu_used: int = 16
    threads: int = 1
    keyframe_interval_s: float = 3.0
    #: At most one *forced* keyframe (PLI/FIR, rung switch, slow subscriber)
    #: per this interval per rung; further requests are coalesced, not lost.
    min_forced_keyframe_interval_s: float = 0.5
    #: VP8 temporal layers (1 = none; 3 = libvpx's L1T3, which lets the media path
    #: halve or quarter a viewer's frame rate without another encode, see
    #: :mod:`adaptive.temporal_layers`).
    temporal_layers: int = 1

    @property
    def keyframe_interval_frames(self) -> int:
        return max(1, round(self.keyframe_interval_s * self.fps))

    def with_bitrate(self, bitrate_bps: int) -> VideoRungSpec:
        return replace(self, bitrate_bps=bitrate_bps)


@dataclass(frozen=True, kw_only=True)
class AudioRungSpec:
    """One audio rung: a single shared Opus encoder at ``bitrate_bps``."""

    name: str
    bitrate_bps: int
    channels: int = 1
    #: Every Opus packet decodes on its own, so this only exists for symmetry
    #: with video; a rung switch completes on the next packet.
    min_forced_keyframe_interval_s: float = 0.0


# Chosen from scripts/bench_encoders.py (see docs/benchmarks.md (section 5)): in
# realtime CBR mode cpu-used 16 costs ~0.1 dB PSNR against cpu-used 4 and is
# 1.6-2.2x faster; one libvpx thread per rung is the most frames per CPU-second,
# and the three rungs already run in parallel on their own threads.
VIDEO_RUNGS: tuple[VideoRungSpec, ...] = (
    VideoRungSpec(name="high", height_px=1080, bitrate_bps=4_500_000, fps=30),
    VideoRungSpec(name="medium", height_px=720, bitrate_bps=2_000_000, fps=30),
    # The floor of the ladder (adaptive.levels): the low rung carries three temporal
    # layers, so a viewer below it gets 15 or 7.5 fps of the same encode.
    VideoRungSpec(name="low", height_px=480, bitrate_bps=900_000, fps=30,
                  temporal_layers=TEMPORAL_LAYERS),
)

AUDIO_RUNGS: tuple[AudioRungSpec, ...] = (
    AudioRungSpec(name="high", bitrate_bps=128_000),
    AudioRungSpec(name="medium", bitrate_bps=96_000),
    AudioRungSpec(name="low", bitrate_bps=64_000),
)


def temporal_layer_options(spec: VideoRungSpec) -> dict[str, str]:
    """libvpx options (through ffmpeg's ``ts-parameters``) for ``spec``'s temporal layers.

    ``ts_layering_mode=3`` is libvpx's three-layer pattern (0-2-1-2, see
    :mod:`adaptive.temporal_layers`); the layers' cumulative rates follow
    :data:`adaptive.levels.TEMPORAL_LAYER_SHARE`. No options for one layer.
    """
    if spec.temporal_layers <= 1:
        return {}
    if spec.temporal_layers != TEMPORAL_LAYERS:
        raise ValueError(f"only {TEMPORAL_LAYERS} temporal layers are supported")
    kbps = ",".join(str(round(spec.bitrate_bps * share / 1000)) for share in TEMPORAL_LAYER_SHARE)
    params = {"ts_number_layers": "3", "ts_target_bitrate": kbps, "ts_rate_decimator": "4,2,1",
              "ts_periodicity": "4", "ts_layer_id": "0,2,1,2", "ts_layering_mode": "3"}
    return {"ts-parameters": ":".join(f"{k}={v}" for k, v in params.items())}


def offered_rungs(
    rungs: tuple[VideoRungSpec, ...], source_height_px: int | None
) -> tuple[VideoRungSpec, ...]:
    """Rungs worth encoding for a source of ``source_height_px``.

    Upscaling only spends bits and CPU on nothing, so rungs taller than the
    source are dropped. The shortest rung is always kept (encoded at the
    source size if the source is smaller still). With an unknown source size
    every rung is offered.
    """
    ordered = tuple(sorted(rungs, key=lambda r: r.height_px, reverse=True))
    if source_height_px is None:
        return ordered
    kept = tuple(r for r in ordered if r.height_px <= source_height_px)
    return kept or ordered[-1:]


def resolve_rung(
    requested: str, rungs: tuple[VideoRungSpec, ...], offered: tuple[VideoRungSpec, ...]
) -> str:
    """The offered rung a subscriber asking for ``requested`` gets.

    An offered rung is returned as is; a rung that is not offered (too tall
    for the source) maps to the tallest offered rung. Unknown names raise
    ``KeyError``.
    """
    by_name = {r.name: r for r in rungs}
    if requested not in by_name:
        raise KeyError(f"no rung named {requested!r}; known: {sorted(by_name)}")
    if any(r.name == requested for r in offered):
        return requested
    return max(offered, key=lambda r: r.height_px).name


def scaled_size(source_w: int, source_h: int, target_h: int) -> tuple[int, int]:
    """Size of a rung ``target_h`` tall keeping the source aspect ratio.

    Never upscales, and rounds both sides to even numbers (yuv420p).
    """
    height = min(target_h, source_h)
    width = round(source_w * height / source_h)
    return max(2, width - width % 2), max(2, height - height % 2)


def parse_vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP8 keyframe, or None for an inter frame.

    RFC 6386 section 9.1: a 3-byte frame tag whose lowest bit is 0 for key
    frames, then the start code 9d 01 2a and two little-endian 16-bit fields
    whose low 14 bits are the width and height.
    """
    if len(frame) < 10 or frame[0] & 0x01:
        return None
    if frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height
