"""Whether a step fits an estimate, and how it misses: the down side of the policy.

Pure judgements of one :class:`~adaptive.levels.QualityLevel` against one
:class:`~adaptive.estimate.Estimate` (see :mod:`adaptive.policy` for how they are used:
"Down, fast", "Loss without delay", "Delay without loss").
"""

from __future__ import annotations

from .estimate import Estimate
from .levels import QualityLevel
from .probe_controller import CLEAN_LOSS_FRACTION, SENDER_LIMITED_FACTOR
from .reasons import compare, percent

#: A step fits while the estimate is at least its total bitrate times this.
CARRY_FACTOR = 1.0
#: Below this fraction of the step's total the congestion is severe.
SEVERE_FACTOR = 0.6
HEAVY_LOSS_FRACTION = 0.10
SEVERE_LOSS_FRACTION = 0.20
#: An RTT within this of the path's lowest shows no standing queue.
QUEUE_FREE_MS = 10.0


def sender_limited(estimate: Estimate) -> bool:
    """The estimate -- a receiver's cut REMB included -- still covers what we send."""
    return (estimate.sent_bps is not None
            and estimate.available_bps >= estimate.sent_bps * SENDER_LIMITED_FACTOR)


def fits(level: QualityLevel, estimate: Estimate) -> bool:
    """``level`` carries what this estimate says: rate (or what we send), RTT, loss."""
    # An encoder below its nominal rate (a still scene, a 15 fps source) leaves the
    # estimate, anchored on what was sent, under the step's total with nothing wrong:
    # the step then needs what we send, not its nominal rate. Loss is judged below, by
    # the same bound as for an encoder at its nominal rate (a step at its nominal rate
    # with 5 % loss fits; the same step sending less with the same loss must too).
    rate_ok = (estimate.available_bps >= level.total_bps * CARRY_FACTOR
               or sender_limited(estimate))
    return (
        rate_ok
        and (estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms)
        and estimate.loss_fraction < HEAVY_LOSS_FRACTION
    )


def loss_only(level: QualityLevel, estimate: Estimate) -> bool:
    """The step misses on loss alone: the receiver's delay-based estimate
    (REMB) still covers it and the RTT is within bounds."""
    return (
        estimate.remb_bps is not None
        and estimate.remb_bps >= level.total_bps * CARRY_FACTOR
        and (estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms)
    )


def delay_only(level: QualityLevel, estimate: Estimate) -> bool:
    """The step misses on the receiver's delay signal (REMB) alone: no loss, the
    loss-based estimate covers it and the RTT is within bounds."""
    return (
        estimate.source == "remb"
        and estimate.loss_fraction < CLEAN_LOSS_FRACTION
        and estimate.smoothed_loss_fraction < CLEAN_LOSS_FRACTION
        and estimate.loss_based_bps is not None
        and estimate.loss_based_bps >= level.total_bps * CARRY_FACTOR
        and (estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms)
    )


def fits_for_down(level: QualityLevel, estimate: Estimate) -> bool:
    """A lower step the link carries, judged on rate and RTT (not on the loss above)."""
    # Loss says the current step is too much; lower steps are judged on rate and RTT.
    # Right after a drop the loss-based cut (what was sent minus what was lost) also
    # counts what the filling queue dropped, and undershoots what arrives; a receiver
    # that has cut its REMB measured the arriving rate (0.85x of it), so when it has
    # cut, its figure picks the target: 800 kbit/s then gets 15 fps, not 7.5.
    # What got through (sent less the loss) was carried, whatever the cut says: after a
    # join burst at 720p into 1,500 kbit (66 % loss in the first report) the cut read
    # 0.31 Mbps and sent the student to audio only; 1.8 Mbps sent, 34 % arrived.
    rate = estimate.available_bps
    if estimate.remb_congested and estimate.remb_bps is not None:
        rate = max(rate, estimate.remb_bps)
    if estimate.sent_bps is not None:
        rate = max(rate, estimate.sent_bps * (1 - estimate.loss_fraction))
    return rate >= level.total_bps * CARRY_FACTOR and (
        estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms
    )

def headroom_bps(level: QualityLevel, estimate: Estimate) -> float:
    """The rate a padding probe's start from ``level`` is judged against: the estimate,
    or, on a floor step, the loss-based one when only a REMB dip that neither loss nor a
    queue confirms holds the estimate down.

    At the floor (a few hundred kbps, a keyframe every 3 s) Chromium's REMB follows what
    arrives (it never climbs past 1.5x of it), so it dips below its recent peak with no
    loss and no queue, and read as a bound it kept a restored link from ever showing
    room for a probe (issue 14: 30 s on a quarter of the frames after the link came
    back). On the rungs the REMB stays a bound: at 480p on 1,800 kbit it reads ~1 Mbps
    with a standing queue (RTT 25-50 ms over a 2 ms path), and probing past it cost a
    hard REMB cut. The probe itself is the safe test: it fails on a REMB cut, a queue or
    loss during its window, and failed probes back off.
    """
    if (not level.is_rung
            and estimate.source == "remb"
            and estimate.loss_fraction < CLEAN_LOSS_FRACTION
            and estimate.smoothed_loss_fraction < CLEAN_LOSS_FRACTION
            and estimate.loss_based_bps is not None
            and estimate.rtt_ms is not None and estimate.rtt_base_ms is not None
            and estimate.rtt_ms <= estimate.rtt_base_ms + QUEUE_FREE_MS):
        return max(estimate.available_bps, estimate.loss_based_bps)
    return estimate.available_bps


def deficit_reason(level: QualityLevel, estimate: Estimate) -> str:
    """Why ``level`` misses, with figures that agree with their signs."""
    needed = level.total_bps * CARRY_FACTOR
    if estimate.available_bps < needed:
        return (f"estimate {compare(estimate.available_bps, '<', needed)}"
                f" needed by {level}")
    if estimate.rtt_ms is not None and estimate.rtt_ms >= level.max_rtt_ms:
        return f"RTT {estimate.rtt_ms:.0f} ms >= {level.max_rtt_ms:.0f} ms allowed for {level}"
    return (f"loss {percent(estimate.loss_fraction)} >= {percent(HEAVY_LOSS_FRACTION)}"
            f" at {level}")
