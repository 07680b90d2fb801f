"""Adaptive quality for classroom streams: a pure core, no I/O, no clocks.

* :mod:`adaptive.levels` -- the quality rungs (high / medium / low).
* :mod:`adaptive.estimator` -- :class:`BandwidthEstimator`, one per peer.
* :mod:`adaptive.policy` -- :class:`QualityPolicy`, rung choice with hysteresis.
* :mod:`adaptive.load` -- :class:`LoadShedder`, graceful degradation by load.

Every method that depends on time takes ``now_ms``; a thin adapter in
``rtc_server`` feeds RTCP and data-channel statistics in and applies the
decisions.
"""

from .estimator import BandwidthEstimator, Estimate
from .exceptions import AdaptiveError, UnknownLevelError
from .levels import (
    HIGH,
    LEVELS,
    LOW,
    MEDIUM,
    QualityLevel,
    cap_level,
    level_above,
    level_below,
    level_by_name,
    lowest_cap,
)
from .load import Change, LoadShedder, LoadState, combine_load
from .policy import Decision, PolicyState, QualityPolicy

__all__ = [
    "HIGH",
    "LEVELS",
    "LOW",
    "MEDIUM",
    "AdaptiveError",
    "BandwidthEstimator",
    "Change",
    "Decision",
    "Estimate",
    "LoadShedder",
    "LoadState",
    "PolicyState",
    "QualityLevel",
    "QualityPolicy",
    "UnknownLevelError",
    "cap_level",
    "combine_load",
    "level_above",
    "level_below",
    "level_by_name",
    "lowest_cap",
]
