"""Adaptive quality for classroom streams: a pure core, no I/O, no clocks.

* :mod:`adaptive.levels` -- the ladder: rungs (high / medium / low) and the
  floor below them (fewer temporal layers, then audio only).
* :mod:`adaptive.estimator` -- :class:`BandwidthEstimator`, one per peer
  (keyframe bursts: :mod:`adaptive.keyframe_window`; probe verdicts:
  :mod:`adaptive.probe_judge`).
* :mod:`adaptive.policy` -- :class:`QualityPolicy`, step choice with
  hysteresis; probing in :mod:`adaptive.probe_controller`, texts in
  :mod:`adaptive.reasons`, join start in :mod:`adaptive.join`.
* :mod:`adaptive.pacer` -- :class:`Pacer`, per-viewer leaky bucket and probe padding.
* :mod:`adaptive.load` -- :class:`LoadShedder`, graceful degradation by load.

Every method that depends on time takes ``now_ms``; a thin adapter in
``rtc_server`` feeds RTCP and data-channel statistics in and applies the
decisions.
"""

from .estimate import Estimate, ProbeOutcome
from .estimator import BandwidthEstimator
from .exceptions import AdaptiveError, UnknownLevelError
from .join import LinkMemory, start_level
from .levels import (
    AUDIO_ONLY,
    HIGH,
    LEVELS,
    LOW,
    LOW_HALF,
    LOW_QUARTER,
    MEDIUM,
    RUNGS,
    STEPS,
    QualityLevel,
    cap_level,
    level_above,
    level_below,
    level_by_name,
    lowest_cap,
)
from .load import Change, LoadShedder, LoadState, combine_load
from .pacer import Pacer
from .policy import Decision, PolicyState, QualityPolicy
from .probe_controller import LEGACY_TRIAL, ProbeSettings

__all__ = [
    "AUDIO_ONLY",
    "HIGH",
    "LEGACY_TRIAL",
    "LEVELS",
    "LOW",
    "LOW_HALF",
    "LOW_QUARTER",
    "MEDIUM",
    "RUNGS",
    "STEPS",
    "AdaptiveError",
    "BandwidthEstimator",
    "Change",
    "Decision",
    "Estimate",
    "LinkMemory",
    "LoadShedder",
    "LoadState",
    "Pacer",
    "PolicyState",
    "ProbeOutcome",
    "ProbeSettings",
    "QualityLevel",
    "QualityPolicy",
    "UnknownLevelError",
    "cap_level",
    "combine_load",
    "level_above",
    "level_below",
    "level_by_name",
    "lowest_cap",
    "start_level",
]
