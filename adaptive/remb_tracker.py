"""The receiver's delay-based estimate (REMB) of one peer, and when it is a bound.

REMB is an AIMD controller in the receiver (GCC): it cuts to 0.85x what it
receives when its delay detector sees over-use, and otherwise climbs (about
8 %/s, never past 1.5x what it receives). So it is a congestion *signal*,
not a capacity measurement; :class:`RembTracker` says when it may bound the
estimate (see :mod:`adaptive.estimator` for the whole model):

* **congested** when it has fallen below ``REMB_DROP_FRACTION`` of its peak
  of the last ``REMB_PEAK_WINDOW_MS``, or is below what we send while loss
  confirms it;
* **suspended** -- a bound only if loss confirms it -- while it ramps after
  a join (``REMB_RAMPING``: aiortc starts near 300 kbps), and after a cut
  that came right after a keyframe burst (``REMB_AFTER_KEYFRAME``: the burst
  filled the shaper's queue for a moment); the suspension ends when the REMB
  has caught up with ``REMB_RAMPED_FRACTION`` of what we send, a ramp also
  after ``REMB_RAMP_MAX_MS``, a keyframe excuse also at the next cut that no
  burst explains. During the join ramp REMB bounds nothing at all: a start
  value confirmed by loss is still no measure of the link.
"""

from __future__ import annotations

from collections import deque

#: REMB arrives about once per second; three missed ones make it stale.
REMB_STALE_MS = 3_000
#: A REMB this far below its peak of the last ``REMB_PEAK_WINDOW_MS`` is a congestion signal.
REMB_DROP_FRACTION = 0.85
REMB_PEAK_WINDOW_MS = 5_000
#: A REMB below this share of the previous one is a cut (the receiver saw over-use);
#: GCC cuts to 0.85x what it receives, and sends at once.
REMB_CUT_FRACTION = 0.9
#: A suspension ends once REMB reaches this share of what we send ...
REMB_RAMPED_FRACTION = 0.9
#: ... and a join ramp this long after the first REMB.
REMB_RAMP_MAX_MS = 30_000

REMB_RAMPING = "ramping after join"
REMB_AFTER_KEYFRAME = "recovering from a keyframe burst"


class RembTracker:
    """Latest REMB, its recent peak, and whether it is suspended as a bound."""

    def __init__(self, *, ignore_ramping: bool = True) -> None:
        self.bps: float | None = None
        self.at_ms: float | None = None
        self._first_ms: float | None = None
        self._history: deque[tuple[float, float]] = deque()
        #: Why REMB is not a bound right now (``None``: it is).
        self.suspended: str | None = REMB_RAMPING if ignore_ramping else None

    def fresh_bps(self, now_ms: float) -> float | None:
        if self.at_ms is None or now_ms - self.at_ms > REMB_STALE_MS:
            return None
        return self.bps

    @property
    def ramping(self) -> bool:
        return self.suspended == REMB_RAMPING

    def on_remb(self, now_ms: float, bps: float, *, after_keyframe: bool,
                sent_bps: float | None) -> bool:
        """Take one REMB; True when it is a cut that counts (over-use no burst explains)."""
        previous = self.fresh_bps(now_ms)
        if self._first_ms is None:
            self._first_ms = now_ms
        self.bps, self.at_ms = bps, now_ms
        counted = False
        if previous is not None and bps < previous * REMB_CUT_FRACTION and not self.ramping:
            if after_keyframe:
                # The peak before the burst is no yardstick for the recovering REMB.
                self.suspended = REMB_AFTER_KEYFRAME
                self._history.clear()
            else:
                self.suspended = None
                counted = True
        self._history.append((now_ms, bps))
        while self._history and self._history[0][0] < now_ms - REMB_PEAK_WINDOW_MS:
            self._history.popleft()
        self.end_suspension(now_ms, sent_bps)
        return counted

    def end_suspension(self, now_ms: float, sent_bps: float | None) -> None:
        """Lift the suspension once REMB has caught up with what we send."""
        if self.suspended is None or self.bps is None:
            return
        caught_up = sent_bps is not None and self.bps >= sent_bps * REMB_RAMPED_FRACTION
        ramp_over = (self.ramping and self._first_ms is not None
                     and now_ms - self._first_ms >= REMB_RAMP_MAX_MS)
        if caught_up or ramp_over:
            self.suspended = None

    def congested(self, now_ms: float, sent_bps: float | None, loss_confirms: bool) -> bool:
        """Does the receiver's estimate say the path is congested right now?"""
        bps = self.fresh_bps(now_ms)
        if bps is None or self.ramping:
            return False
        if sent_bps is not None and bps < sent_bps and loss_confirms:
            return True
        if self.suspended is not None:
            return False  # after a keyframe burst only loss confirms a cut
        peak = max(rate for _, rate in self._history)
        return bps < REMB_DROP_FRACTION * peak

    def bound_bps(self, now_ms: float, congested: bool) -> float | None:
        """The REMB if it may bound the estimate now, else ``None``."""
        bps = self.fresh_bps(now_ms)
        return bps if bps is not None and (self.suspended is None or congested) else None
