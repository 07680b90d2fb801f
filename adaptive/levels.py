"""The quality steps a viewer can be sent: three encoded rungs and a floor below them.

**Rungs.** The three encoded rungs, their audio rates and latency targets
come from the design seed (``AdaptiveQualityManager``): high = 1080p /
128 kbps Opus / 100 ms, medium = 720p / 96 kbps / 200 ms, low = 480p /
64 kbps / 500 ms. The seed names no video bitrates, so we chose VP8 rates
at 30 fps in the middle of the usual real-time ranges (YouTube's live
recommendations and libwebrtc's default simulcast table put 1080p at
3-6 Mbps, 720p at 1.5-2.5 Mbps and 480p at 0.5-1.2 Mbps). The seed's
admission thresholds (bandwidth > 5000 kbps and RTT < 100 ms for high,
> 2000 kbps and < 300 ms for medium) are kept on each rung as
``admit_kbps`` / ``max_rtt_ms``; :mod:`adaptive.policy` adds hysteresis
around them. Their names (``low``, ``medium``, ``high``) are protocol
names: clients send them, and they mean what they always meant.

**Floor.** Below ``low`` the picture keeps moving without another encode
per viewer: the low rung is encoded with three VP8 temporal layers (L1T3:
TL0 every 4th frame, TL1 halfway between, TL2 the odd frames), and the
media path drops the enhancement layers *per viewer*. Below that, the
viewer gets audio plus the low rung's keyframes alone (one every
``keyframe_interval_s``, 3 s), a still picture. The layer shares are
libwebrtc's default split for three temporal layers (``kLayerRateAllocation``:
TL0 40 %, TL0+TL1 60 %, all 100 %: base frames are bigger because they
predict from further back). The still-picture budget assumes a 480p
keyframe of up to 15 kB every 3 s (the synthetic source's are ~2 kB,
camera content is larger).

    ===========  ========  ======  ===============  ==========  ==========  ==========
    step         forwards          frame rate       video kbps  audio kbps  total kbps
    -----------  ----------------  ---------------  ----------  ----------  ----------
    name         rung      layers  (30 fps source)
    ===========  ========  ======  ===============  ==========  ==========  ==========
    audio_only   low       key     1 per 3 s            40          64         104
    low_quarter  low       1       7.5 fps             360          64         424
    low_half     low       2       15 fps              540          64         604
    low          low       3       30 fps              900          64         964
    medium       medium    all     30 fps             2000          96        2096
    high         high      all     30 fps             4500         128        4628
    ===========  ========  ======  ===============  ==========  ==========  ==========

``rank`` orders the steps: the rungs keep 0 (low), 1 (medium), 2 (high), so
``LEVELS[level.rank] is level`` still holds for them; the floor steps rank
below zero. ``STEPS`` is the whole ladder, ``LEVELS`` the encoded rungs
alone (what the media ladder encodes and clients may ask for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .exceptions import UnknownLevelError

#: The encoded rungs; protocol names.
LevelName = Literal["low", "medium", "high"]
#: Every step of the ladder: the rungs and the floor below them.
StepName = Literal["audio_only", "low_quarter", "low_half", "low", "medium", "high"]

#: VP8 temporal layers the low rung is encoded with (L1T3).
TEMPORAL_LAYERS = 3
#: Cumulative share of the rung's video rate carried by the first 1, 2, 3 layers.
TEMPORAL_LAYER_SHARE: tuple[float, ...] = (0.4, 0.6, 1.0)
#: Kbps budgeted for the audio-only step's still picture (a keyframe every 3 s).
STILL_PICTURE_KBPS = 40


@dataclass(frozen=True, slots=True)
class QualityLevel:
    """One step of the ladder; ``rank`` orders steps (low = 0, the floor below 0)."""

    name: StepName
    rank: int
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    #: The seed's ``maxLatency``: the end-to-end latency this step aims for.
    target_latency_ms: int
    #: The seed's bandwidth threshold for choosing this step (0 = always).
    admit_kbps: int
    #: The seed's RTT threshold: an RTT at or above it rules this step out.
    max_rtt_ms: float
    #: The encoded rung whose packets this step forwards.
    rung: LevelName
    #: VP8 temporal layers forwarded (TL0 .. TL(n-1)); ``TEMPORAL_LAYERS`` = all.
    temporal_layers: int = TEMPORAL_LAYERS
    #: Audio plus the rung's keyframes only (a still picture every few seconds).
    audio_only: bool = False
    #: Frames forwarded per frame encoded (1 = every frame; 0 for audio-only).
    frame_rate_fraction: float = 1.0

    @property
    def total_kbps(self) -> int:
        """Video plus audio: what the link has to carry for this step."""
        return self.video_kbps + self.audio_kbps

    @property
    def total_bps(self) -> int:
        return self.total_kbps * 1000

    @property
    def video_bps(self) -> int:
        return self.video_kbps * 1000

    @property
    def audio_bps(self) -> int:
        return self.audio_kbps * 1000

    @property
    def admit_bps(self) -> int:
        return self.admit_kbps * 1000

    @property
    def is_rung(self) -> bool:
        """An encoded rung sent whole (not a floor step)."""
        return self.name == self.rung

    def fps(self, source_fps: float) -> float:
        """Frames per second the viewer sees from a rung encoded at ``source_fps``."""
        return source_fps * self.frame_rate_fraction

    def __str__(self) -> str:
        return self.name


LOW = QualityLevel(
    name="low", rank=0, width=854, height=480, video_kbps=900, audio_kbps=64,
    target_latency_ms=500, admit_kbps=0, max_rtt_ms=float("inf"), rung="low",
)
MEDIUM = QualityLevel(
    name="medium", rank=1, width=1280, height=720, video_kbps=2000, audio_kbps=96,
    target_latency_ms=200, admit_kbps=2000, max_rtt_ms=300.0, rung="medium",
)
HIGH = QualityLevel(
    name="high", rank=2, width=1920, height=1080, video_kbps=4500, audio_kbps=128,
    target_latency_ms=100, admit_kbps=5000, max_rtt_ms=100.0, rung="high",
)
LOW_HALF = QualityLevel(
    name="low_half", rank=-1, width=854, height=480,
    video_kbps=round(LOW.video_kbps * TEMPORAL_LAYER_SHARE[1]), audio_kbps=64,
    target_latency_ms=500, admit_kbps=0, max_rtt_ms=float("inf"), rung="low",
    temporal_layers=2, frame_rate_fraction=0.5,
)
LOW_QUARTER = QualityLevel(
    name="low_quarter", rank=-2, width=854, height=480,
    video_kbps=round(LOW.video_kbps * TEMPORAL_LAYER_SHARE[0]), audio_kbps=64,
    target_latency_ms=500, admit_kbps=0, max_rtt_ms=float("inf"), rung="low",
    temporal_layers=1, frame_rate_fraction=0.25,
)
AUDIO_ONLY = QualityLevel(
    name="audio_only", rank=-3, width=854, height=480, video_kbps=STILL_PICTURE_KBPS,
    audio_kbps=64, target_latency_ms=500, admit_kbps=0, max_rtt_ms=float("inf"),
    rung="low", temporal_layers=1, audio_only=True, frame_rate_fraction=0.0,
)

#: The encoded rungs, lowest first; ``LEVELS[level.rank] is level``.
LEVELS: tuple[QualityLevel, ...] = (LOW, MEDIUM, HIGH)
#: The whole ladder, lowest first: the floor steps, then the rungs.
STEPS: tuple[QualityLevel, ...] = (AUDIO_ONLY, LOW_QUARTER, LOW_HALF, LOW, MEDIUM, HIGH)
#: The ladder without a floor: for a media path that cannot drop temporal layers.
RUNGS: tuple[QualityLevel, ...] = LEVELS

_BY_NAME: dict[str, QualityLevel] = {level.name: level for level in STEPS}


def level_by_name(name: str) -> QualityLevel:
    """Return the step called ``name``; raise :class:`UnknownLevelError` otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownLevelError(name, tuple(_BY_NAME)) from None


def cap_level(level: QualityLevel, maximum: QualityLevel | None) -> QualityLevel:
    """``level``, lowered to ``maximum`` if it is above it (``None`` = no cap)."""
    if maximum is None or level.rank <= maximum.rank:
        return level
    return maximum


def lowest_cap(*caps: QualityLevel | None) -> QualityLevel:
    """The most restrictive of several optional caps (``HIGH`` when all are ``None``)."""
    result = HIGH
    for cap in caps:
        result = cap_level(result, cap)
    return result


def level_above(
    level: QualityLevel, ladder: Sequence[QualityLevel] = STEPS
) -> QualityLevel | None:
    """The next step up in ``ladder``, or ``None`` at its top."""
    higher = [step for step in ladder if step.rank > level.rank]
    return min(higher, key=lambda step: step.rank) if higher else None


def level_below(
    level: QualityLevel, ladder: Sequence[QualityLevel] = STEPS
) -> QualityLevel | None:
    """The next step down in ``ladder``, or ``None`` at its bottom."""
    lower = [step for step in ladder if step.rank < level.rank]
    return max(lower, key=lambda step: step.rank) if lower else None
