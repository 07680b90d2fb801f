"""What the policy tells the media path: a :class:`Decision` per switch, and the
:class:`PolicyState` to read between decisions.

The media path's contract (see also :mod:`adaptive.pacer`):

* forward ``state.level``: the packets of rung ``level.rung``; of its VP8
  temporal layers only TL0..TL(``level.temporal_layers`` - 1); with
  ``level.audio_only``, audio plus the rung's keyframes alone. Leaving
  audio-only needs a keyframe of the rung (the viewer has no reference).
* while ``state.padding_target_bps(now_ms)`` is above zero, add padding (or
  RTX duplicates of recent packets) so that media plus padding reach it;
  it is zero outside ``[probe_started_ms, probe_until_ms)``. When the window
  ends, report the bytes sent in it to the estimator (``on_probe_sent``).
* in trial mode (``state.probe_by_trial``) deliver ``state.probe_level``
  while ``state.probing`` instead; it is not a switch.
* on a :class:`Decision`, switch, and show the student ``decision.notice``.
* feed the estimator what was sent: ``on_sent_bitrate`` (padding included)
  and ``on_keyframe_sent(now_ms, size_bytes)`` for every keyframe forwarded
  to the viewer, so that the burst's loss is not read as congestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .levels import QualityLevel

DecisionKind = Literal["down", "up", "cap"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A switch the caller should apply (forward another step)."""

    at_ms: float
    level: QualityLevel
    previous: QualityLevel
    kind: DecisionKind
    #: Why, for logs ("down: estimate 1.40 Mbps < 2.10 Mbps needed by medium ...").
    reason: str
    #: One sentence for the student ("Your connection is slow: showing fewer frames.").
    notice: str = ""


@dataclass(frozen=True, slots=True)
class PolicyState:
    """What the media path needs to know between decisions."""

    #: The step to forward: ``level.rung``, ``level.temporal_layers``, ``level.audio_only``.
    level: QualityLevel
    #: When the current step was entered (``None`` before the first update).
    since_ms: float | None
    #: The most the caps allow (pin, server cap, source maximum).
    max_level: QualityLevel
    probing: bool
    #: Step being probed, if any (trial mode: deliver this step meanwhile).
    probe_level: QualityLevel | None
    #: Total rate to send while probing (media plus padding); 0 otherwise.
    probe_target_bps: float
    #: When the probe started / when padding must stop (``None`` when not probing).
    probe_started_ms: float | None
    probe_until_ms: float | None
    #: The probe is the probed step itself, not padding.
    probe_by_trial: bool
    #: Current hold before the next up-step (grows after failed up-steps).
    up_hold_ms: float
    #: Wait after the latest failed probe, and the earliest next probe at its rate.
    probe_backoff_ms: float
    next_probe_ms: float | None
    #: Remembered capacity from failed probes (the link is believed to carry less).
    ceiling_bps: float | None
    #: How the last probe ended, for logs and status.
    last_probe: str | None

    @property
    def probe_bps(self) -> float:
        """Former name of ``probe_target_bps``."""
        return self.probe_target_bps

    def padding_target_bps(self, now_ms: float) -> float:
        """Total rate (media plus padding) to send at ``now_ms``; 0 = no padding now."""
        start, until = self.probe_started_ms, self.probe_until_ms
        if not self.probing or self.probe_by_trial or start is None or until is None:
            return 0.0
        return self.probe_target_bps if start <= now_ms < until else 0.0
