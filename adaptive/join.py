"""Where a viewer starts, and what its link taught a previous connection.

A join used to start on the configured rung and let the first REMB decide;
aiortc's REMB starts near 300 kbps and ramps, and read as capacity it
dropped an unshaped student to 480p two seconds in (issue 14). Now:

* :func:`start_level` picks the first step from what is known before any
  feedback: the client's declared capacity or the one its link showed last
  time (:class:`LinkMemory`), capped at the step it asked for. Pass the same
  capacity to :class:`~adaptive.estimator.BandwidthEstimator` as
  ``initial_bps``; the estimator ignores REMB until it has ramped, and the
  policy holds the start step until receiver reports arrive.
* :class:`LinkMemory` is what the caller keeps per user between connections
  (:meth:`~adaptive.policy.QualityPolicy.memory`): the last capacity and
  what failed probes taught (ceiling, backoff), so a reconnecting student
  neither starts too high nor probes into a link that just refused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .levels import LOW, STEPS, QualityLevel

#: A link's memory older than this says little about the link now.
LINK_MEMORY_TTL_MS = 30 * 60_000


@dataclass(frozen=True, slots=True)
class LinkMemory:
    """What one viewer's link showed, for the viewer's next connection."""

    #: When this was taken (same clock as the policy's ``now_ms``).
    at_ms: float
    #: The last estimate that had evidence behind it; ``None`` = none yet.
    capacity_bps: float | None
    #: The remembered ceiling from failed probes; ``None`` = none.
    ceiling_bps: float | None
    #: Consecutive failed probes, and the backoff the last one set.
    probe_failures: int
    probe_backoff_ms: float
    #: Earliest time of the next probe at the ceiling's rate.
    next_probe_ms: float | None

    def fresh(self, now_ms: float) -> bool:
        return 0 <= now_ms - self.at_ms <= LINK_MEMORY_TTL_MS


def start_level(
    *,
    asked: QualityLevel | None = None,
    capacity_bps: float | None = None,
    ladder: Sequence[QualityLevel] = STEPS,
) -> QualityLevel:
    """The step a viewer starts on.

    The highest step of ``ladder`` whose total fits ``capacity_bps`` (the
    client's declared or last-known capacity), at most ``asked``; without a
    capacity, ``asked``; without either, ``low``.
    """
    ordered = sorted(ladder, key=lambda step: step.rank)
    ceiling = asked if asked is not None else (ordered[-1] if capacity_bps is not None else LOW)
    candidates = [step for step in ordered if step.rank <= ceiling.rank] or ordered[:1]
    if capacity_bps is None:
        return candidates[-1]
    fitting = [step for step in candidates if step.total_bps <= capacity_bps]
    return fitting[-1] if fitting else candidates[0]
