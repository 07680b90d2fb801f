"""The quality rungs a stream can be sent at.

The three rungs, their audio rates and latency targets come from the design
seed (``AdaptiveQualityManager``): high = 1080p / 128 kbps Opus / 100 ms,
medium = 720p / 96 kbps / 200 ms, low = 480p / 64 kbps / 500 ms.

The seed names no video bitrates, so we chose VP8 rates at 30 fps in the
middle of the usual real-time ranges (YouTube's live recommendations and
libwebrtc's default simulcast table put 1080p at 3-6 Mbps, 720p at
1.5-2.5 Mbps and 480p at 0.5-1.2 Mbps):

    ======  =========  ==========  ==========  ==========  =============
    rung    size       video kbps  audio kbps  total kbps  latency target
    ======  =========  ==========  ==========  ==========  =============
    low      854x480        900          64         964       500 ms
    medium  1280x720       2000          96        2096       200 ms
    high    1920x1080      4500         128        4628       100 ms
    ======  =========  ==========  ==========  ==========  =============

The seed's admission thresholds (bandwidth > 5000 kbps and RTT < 100 ms for
high, > 2000 kbps and < 300 ms for medium) are kept on each rung as
``admit_kbps`` / ``max_rtt_ms``; :mod:`adaptive.policy` adds hysteresis
around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .exceptions import UnknownLevelError

LevelName = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class QualityLevel:
    """One rung of the quality ladder; ``rank`` orders rungs (low = 0)."""

    name: LevelName
    rank: int
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    #: The seed's ``maxLatency``: the end-to-end latency this rung aims for.
    target_latency_ms: int
    #: The seed's bandwidth threshold for choosing this rung (0 = always).
    admit_kbps: int
    #: The seed's RTT threshold: an RTT at or above it rules this rung out.
    max_rtt_ms: float

    @property
    def total_kbps(self) -> int:
        """Video plus audio: what the link has to carry for this rung."""
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

    def __str__(self) -> str:
        return self.name


LOW = QualityLevel(
    name="low",
    rank=0,
    width=854,
    height=480,
    video_kbps=900,
    audio_kbps=64,
    target_latency_ms=500,
    admit_kbps=0,
    max_rtt_ms=float("inf"),
)
MEDIUM = QualityLevel(
    name="medium",
    rank=1,
    width=1280,
    height=720,
    video_kbps=2000,
    audio_kbps=96,
    target_latency_ms=200,
    admit_kbps=2000,
    max_rtt_ms=300.0,
)
HIGH = QualityLevel(
    name="high",
    rank=2,
    width=1920,
    height=1080,
    video_kbps=4500,
    audio_kbps=128,
    target_latency_ms=100,
    admit_kbps=5000,
    max_rtt_ms=100.0,
)

#: All rungs, lowest first; ``LEVELS[level.rank] is level``.
LEVELS: tuple[QualityLevel, ...] = (LOW, MEDIUM, HIGH)

_BY_NAME: dict[str, QualityLevel] = {level.name: level for level in LEVELS}


def level_by_name(name: str) -> QualityLevel:
    """Return the rung called ``name``; raise :class:`UnknownLevelError` otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownLevelError(name) from None


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


def level_above(level: QualityLevel) -> QualityLevel | None:
    """The next rung up, or ``None`` at the top."""
    return LEVELS[level.rank + 1] if level.rank + 1 < len(LEVELS) else None


def level_below(level: QualityLevel) -> QualityLevel | None:
    """The next rung down, or ``None`` at the bottom."""
    return LEVELS[level.rank - 1] if level.rank > 0 else None
