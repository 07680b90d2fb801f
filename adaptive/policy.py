"""Per-peer choice of quality rung from bandwidth estimates, with hysteresis.

The seed picks a rung from thresholds every 5 s (> 5000 kbps and RTT
< 100 ms: high; > 2000 kbps and < 300 ms: medium; else low). A resolution
switch costs a keyframe and is visible to students, so this policy keeps the
seed's thresholds but moves between rungs asymmetrically:

**Down, fast.** The current rung *fits* while the estimate is at least its
total bitrate (``CARRY_FACTOR``), the RTT is below the rung's seed limit
and the latest report's loss is under ``HEAVY_LOSS_FRACTION``. When it has
not fit for ``DOWN_HOLD_MS`` (two reports, so a single bad report is
tolerated) the policy drops straight to the highest rung that fits the estimate (from
high to low in one step if need be). A down-step waits for ``MIN_DWELL_MS``
since the previous switch unless the congestion is *severe* (estimate below
``SEVERE_FACTOR`` of the rung, or loss at least ``SEVERE_LOSS_FRACTION``):
then it goes on the second report that shows it (``SEVERE_DOWN_HOLD_MS``) and
skips the dwell, because waiting would mean seconds of frozen video.

**Loss without delay.** When the rung misses only through loss (and the
loss-based estimate that follows it) while the receiver's delay-based
estimate (REMB) still covers the rung and the RTT is fine, the loss is
most likely not congestion (Wi-Fi, a lossy last mile): a lower resolution
would not lose less. Such a miss must last ``LOSS_ONLY_DOWN_HOLD_MS`` and is
never severe. Without a fresh REMB loss is taken as congestion.

**Up, slow and verified.** A receiver's estimate (GCC's delay-based rate)
is capped at about 1.5x the rate it receives, so while we send at one rung
the estimate can never show room for the next one; headroom has to be
*probed*, as libwebrtc's ``ProbeController`` does. The policy therefore:

1. waits until the current rung has been comfortable (estimate at least
   ``COMFORT_FACTOR`` of its total, smoothed loss under
   ``CLEAN_LOSS_FRACTION``, RTT under ``RTT_UP_FACTOR`` of the next rung's
   limit) for ``up_hold_ms`` (``UP_HOLD_MS`` at first) and ``MIN_DWELL_MS``
   has passed since the last switch;
2. enters *probing*: ``state.probe_bps`` is the total rate the caller should
   send (media plus padding) to test the next rung: its up threshold (the
   seed threshold plus ``UP_MARGIN``, or ``UP_TOTAL_FACTOR`` of its total,
   whichever is higher) plus ``PROBE_OVERSHOOT``;
3. commits when the estimate has stayed above that up threshold for
   ``PROBE_CONFIRM_MS`` since the probe started (one report interval); if a
   still higher rung is allowed and the RTT fits it, the probe first moves on
   to that rung (so a recovered link goes from low to high in one switch),
   and commits the highest rung it confirmed;
4. aborts on loss of ``PROBE_ABORT_LOSS_FRACTION``, an RTT over the target
   rung's limit or after ``PROBE_MAX_MS`` per stage. A failed probe makes the
   next attempt wait twice as long, up to ``MAX_PROBE_HOLD_MS``.

**Anti-flap.** An up-step undone within ``FAILED_UP_WINDOW_MS`` doubles the
hold before the next up-step, up to ``MAX_UP_HOLD_MS``; after
``BACKOFF_RESET_MS`` without trouble the hold returns to ``UP_HOLD_MS``.
Together with the dwell this keeps a link that oscillates faster than the
hold from flapping, at the price of staying low on it.

**Caps.** A client-pinned maximum, a server-imposed cap (load shedding) and
the source's own maximum are applied at the next :meth:`QualityPolicy.update`
and, when they lower the rung, at once regardless of dwell: they are
decisions, not measurements.

Without a fresh estimate (``confidence == "none"``) the policy holds: it has
nothing to justify a switch with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .estimator import Estimate
from .levels import LEVELS, LOW, QualityLevel, level_above, lowest_cap

#: Fewest milliseconds between two switches (severe congestion and caps excepted).
MIN_DWELL_MS = 10_000
#: The current rung has to miss for this long before stepping down.
DOWN_HOLD_MS = 1_500
#: ... or this long when the congestion is severe (two reports, about a second apart).
SEVERE_DOWN_HOLD_MS = 900
#: ... or this long when the miss is loss alone (see "Loss without delay").
LOSS_ONLY_DOWN_HOLD_MS = 5_000
#: A rung fits while the estimate is at least its total bitrate times this.
CARRY_FACTOR = 1.0
#: Below this fraction of the rung's total the congestion is severe.
SEVERE_FACTOR = 0.6
HEAVY_LOSS_FRACTION = 0.10
SEVERE_LOSS_FRACTION = 0.20

#: How long the current rung must be comfortable before probing the next.
UP_HOLD_MS = 5_000
MAX_UP_HOLD_MS = 60_000
MAX_PROBE_HOLD_MS = 6_000
FAILED_UP_WINDOW_MS = 30_000
BACKOFF_RESET_MS = 180_000
COMFORT_FACTOR = 1.25
CLEAN_LOSS_FRACTION = 0.02
#: Stepping up needs an RTT below this fraction of the target rung's limit.
RTT_UP_FACTOR = 0.8
#: Margin over the seed's bandwidth threshold to step up to a rung.
UP_MARGIN = 0.10
#: ... and the estimate must also be this multiple of the rung's total.
UP_TOTAL_FACTOR = 1.2
#: Probe rate relative to the up threshold, so the estimate can exceed it.
PROBE_OVERSHOOT = 1.05
PROBE_CONFIRM_MS = 1_000
#: Probing by trial (``probe_by_trial``): the rung itself is the probe, and carrying this
#: fraction of its total cleanly confirms it (encoders undershoot their target a little).
TRIAL_CARRY_FACTOR = 0.9
#: Trial mode: an estimate at least this share of what is sent is limited by the sender.
SENDER_LIMITED_FACTOR = 0.95
PROBE_MAX_MS = 4_000
PROBE_ABORT_LOSS_FRACTION = 0.05

DecisionKind = Literal["down", "up", "cap"]


def up_threshold_bps(level: QualityLevel) -> float:
    """Estimate needed to step up to ``level`` (seed threshold plus margin)."""
    return max(level.admit_bps * (1 + UP_MARGIN), level.total_bps * UP_TOTAL_FACTOR)


def probe_bps_for(level: QualityLevel) -> float:
    """Total send rate (media plus padding) that tests whether ``level`` fits."""
    return up_threshold_bps(level) * PROBE_OVERSHOOT


def _mbps(bps: float) -> str:
    return f"{bps / 1e6:.2f} Mbps"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


@dataclass(frozen=True, slots=True)
class Decision:
    """A switch the caller should apply (re-encode / re-negotiate)."""

    at_ms: float
    level: QualityLevel
    previous: QualityLevel
    kind: DecisionKind
    #: Why, for logs and the client ("down: estimate 1.40 Mbps < 2.10 Mbps ...").
    reason: str


@dataclass(frozen=True, slots=True)
class PolicyState:
    level: QualityLevel
    #: When the current rung was entered (``None`` before the first update).
    since_ms: float | None
    #: The most the caps allow (pin, server cap, source maximum).
    max_level: QualityLevel
    probing: bool
    #: Rung being probed, if any.
    probe_level: QualityLevel | None
    #: Total rate to send while probing (media plus padding); 0 otherwise.
    probe_bps: float
    #: Current hold before the next probe (grows after failures).
    up_hold_ms: float


class QualityPolicy:
    """Chooses the rung for one peer; feed it one estimate per report."""

    def __init__(
        self,
        *,
        initial_level: QualityLevel = LOW,
        pinned_max: QualityLevel | None = None,
        server_cap: QualityLevel | None = None,
        source_max: QualityLevel | None = None,
        probe_by_trial: bool = False,
    ) -> None:
        """``probe_by_trial``: the caller cannot send padding and probes by delivering the
        probed rung itself for a few seconds; it is confirmed when the link carries that
        rung cleanly, instead of when the estimate shows the up threshold.
        """
        self._probe_by_trial = probe_by_trial
        self._pinned_max = pinned_max
        self._server_cap = server_cap
        self._source_max = source_max
        self._level = min(initial_level, self.max_level, key=lambda lv: lv.rank)
        self._since_ms: float | None = None
        self._last_switch_ms: float | None = None
        self._last_up_ms: float | None = None
        self._last_trouble_ms: float | None = None
        self._deficit_since_ms: float | None = None
        self._headroom_since_ms: float | None = None
        self._up_hold_ms: float = UP_HOLD_MS
        self._probe_hold_ms: float = UP_HOLD_MS
        # Probe state
        self._probe_level: QualityLevel | None = None
        self._probe_stage_ms: float = 0.0
        self._probe_ok_since_ms: float | None = None
        self._probe_confirmed: QualityLevel | None = None
        self._probe_confirmed_bps = 0.0

    # -- caps -----------------------------------------------------------

    @property
    def max_level(self) -> QualityLevel:
        return lowest_cap(self._pinned_max, self._server_cap, self._source_max)

    def set_pinned_max(self, level: QualityLevel | None) -> None:
        """The client's own ceiling (e.g. "save data"); ``None`` lifts it."""
        self._pinned_max = level

    def set_server_cap(self, level: QualityLevel | None) -> None:
        """Load shedding's ceiling; ``None`` lifts it."""
        self._server_cap = level

    def set_source_max(self, level: QualityLevel | None) -> None:
        """The best rung the source provides (a 720p camera: medium)."""
        self._source_max = level

    @property
    def level(self) -> QualityLevel:
        return self._level

    @property
    def state(self) -> PolicyState:
        probing = self._probe_level is not None
        return PolicyState(
            level=self._level,
            since_ms=self._since_ms,
            max_level=self.max_level,
            probing=probing,
            probe_level=self._probe_level,
            probe_bps=probe_bps_for(self._probe_level) if self._probe_level is not None else 0.0,
            up_hold_ms=max(self._up_hold_ms, self._probe_hold_ms),
        )

    # -- the decision ---------------------------------------------------

    def update(self, now_ms: float, estimate: Estimate) -> Decision | None:
        """Take one estimate; return a :class:`Decision` if the rung changes."""
        if self._since_ms is None:
            self._since_ms = now_ms
        if self._last_trouble_ms is not None and now_ms - self._last_trouble_ms >= BACKOFF_RESET_MS:
            self._up_hold_ms = UP_HOLD_MS
            self._probe_hold_ms = UP_HOLD_MS
            self._last_trouble_ms = None

        cap = self.max_level
        if self._level.rank > cap.rank:
            return self._switch(
                now_ms, cap, "cap", f"cap: {self._cap_reason(cap)} allows at most {cap}"
            )
        if self._probe_level is not None and self._probe_level.rank > cap.rank:
            self._stop_probe()
        if estimate.confidence == "none":
            self._stop_probe()
            self._deficit_since_ms = None
            self._headroom_since_ms = None
            return None

        if self._probe_level is not None:
            decision = self._on_probe(now_ms, estimate, cap)
            # A report that ended a probe describes the probe traffic, not the
            # rung: judge the rung again on the next one.
            if decision is not None or self._probe_level is None:
                self._deficit_since_ms = None
                return decision
        if not self._fits(self._level, estimate):
            return self._on_deficit(now_ms, estimate)
        self._deficit_since_ms = None
        if self._probe_level is None:
            self._consider_probe(now_ms, estimate, cap)
        return None

    # -- down -----------------------------------------------------------

    def _fits(self, level: QualityLevel, estimate: Estimate) -> bool:
        rate_ok = (estimate.available_bps >= level.total_bps * CARRY_FACTOR
                   or self._carried_cleanly(estimate))
        return (
            rate_ok
            and (estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms)
            and estimate.loss_fraction < HEAVY_LOSS_FRACTION
        )

    def _carried_cleanly(self, estimate: Estimate) -> bool:
        """Trial mode: the rung we deliver fits while the link carries it without loss.

        Real encoders run below their nominal rate (a still scene, a low frame rate), so
        an estimate anchored on what was sent can sit under the rung's nominal total with
        nothing wrong; what says "too much" is loss, delay or a receiver that cut.
        """
        return (
            self._probe_by_trial
            and estimate.sent_bps is not None
            and estimate.source != "remb"
            and estimate.loss_fraction < CLEAN_LOSS_FRACTION
            and estimate.available_bps >= estimate.sent_bps * SENDER_LIMITED_FACTOR
        )

    def _on_deficit(self, now_ms: float, estimate: Estimate) -> Decision | None:
        if self._probe_level is not None:
            # The probe itself may have caused this; either way it has failed.
            self._fail_probe(now_ms)
        self._headroom_since_ms = None
        if self._deficit_since_ms is None:
            self._deficit_since_ms = now_ms
        missing_ms = now_ms - self._deficit_since_ms
        loss_only = self._loss_only(estimate)
        severe = not loss_only and (
            estimate.available_bps < self._level.total_bps * SEVERE_FACTOR
            or estimate.loss_fraction >= SEVERE_LOSS_FRACTION
        )
        # Severe congestion acts on the second report that shows it (one bad report is
        # still tolerated): every second above the link's capacity is a second of frozen
        # video, because frames cannot be completed.
        hold_ms = (SEVERE_DOWN_HOLD_MS if severe
                   else LOSS_ONLY_DOWN_HOLD_MS if loss_only else DOWN_HOLD_MS)
        if missing_ms < hold_ms or self._level is LOW:
            return None
        if not severe and not self._dwell_passed(now_ms):
            return None
        target = LOW
        for candidate in LEVELS[: self._level.rank]:
            if self._fits_for_down(candidate, estimate):
                target = candidate
        reason = f"down: {self._deficit_reason(estimate)} for {_seconds(missing_ms)}"
        if loss_only:
            reason += " (loss without a delay signal)"
        if severe and not self._dwell_passed(now_ms):
            reason += " (severe: dwell skipped)"
        if self._last_up_ms is not None and now_ms - self._last_up_ms < FAILED_UP_WINDOW_MS:
            self._up_hold_ms = min(self._up_hold_ms * 2, MAX_UP_HOLD_MS)
            self._last_trouble_ms = now_ms
            reason += f"; up-step failed, next up after {_seconds(self._up_hold_ms)}"
        return self._switch(now_ms, target, "down", reason)

    def _loss_only(self, estimate: Estimate) -> bool:
        """The rung misses on loss alone: the receiver's delay-based estimate
        (REMB) still covers it and the RTT is within bounds."""
        level = self._level
        return (
            estimate.remb_bps is not None
            and estimate.remb_bps >= level.total_bps * CARRY_FACTOR
            and (estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms)
        )

    def _fits_for_down(self, level: QualityLevel, estimate: Estimate) -> bool:
        # Loss says the current rung is too much; lower rungs are judged on rate and RTT.
        return estimate.available_bps >= level.total_bps * CARRY_FACTOR and (
            estimate.rtt_ms is None or estimate.rtt_ms < level.max_rtt_ms
        )

    def _deficit_reason(self, estimate: Estimate) -> str:
        level = self._level
        needed = level.total_bps * CARRY_FACTOR
        if estimate.available_bps < needed:
            return f"estimate {_mbps(estimate.available_bps)} < {_mbps(needed)} needed by {level}"
        if estimate.rtt_ms is not None and estimate.rtt_ms >= level.max_rtt_ms:
            return f"RTT {estimate.rtt_ms:.0f} ms >= {level.max_rtt_ms:.0f} ms allowed for {level}"
        return f"loss {estimate.loss_fraction:.0%} >= {HEAVY_LOSS_FRACTION:.0%} at {level}"

    # -- up -------------------------------------------------------------

    def _next_allowed(
        self, level: QualityLevel, cap: QualityLevel, estimate: Estimate
    ) -> QualityLevel | None:
        nxt = level_above(level)
        if nxt is None or nxt.rank > cap.rank:
            return None
        if estimate.rtt_ms is None or estimate.rtt_ms >= nxt.max_rtt_ms * RTT_UP_FACTOR:
            return None  # the seed rules the rung out on RTT alone; no RTT, no step up
        return nxt

    def _consider_probe(self, now_ms: float, estimate: Estimate, cap: QualityLevel) -> None:
        nxt = self._next_allowed(self._level, cap, estimate)
        comfortable = (
            nxt is not None
            and estimate.available_bps >= self._level.total_bps * COMFORT_FACTOR
            and estimate.smoothed_loss_fraction < CLEAN_LOSS_FRACTION
        )
        if not comfortable or nxt is None:
            self._headroom_since_ms = None
            return
        if self._headroom_since_ms is None:
            self._headroom_since_ms = now_ms
        hold_ms = max(self._up_hold_ms, self._probe_hold_ms)
        if now_ms - self._headroom_since_ms >= hold_ms and self._dwell_passed(now_ms):
            self._start_probe(now_ms, nxt)

    def _start_probe(self, now_ms: float, level: QualityLevel) -> None:
        self._probe_level = level
        self._probe_stage_ms = now_ms
        # The streak counts from the stage start: the first report after it
        # covers a whole interval sent at the probe rate.
        self._probe_ok_since_ms = now_ms

    def _on_probe(self, now_ms: float, estimate: Estimate, cap: QualityLevel) -> Decision | None:
        level = self._probe_level
        assert level is not None  # only called while probing
        threshold = (level.total_bps * TRIAL_CARRY_FACTOR if self._probe_by_trial
                     else up_threshold_bps(level))
        rtt_ok = estimate.rtt_ms is not None and estimate.rtt_ms < level.max_rtt_ms * RTT_UP_FACTOR
        carried = estimate.available_bps >= threshold or (
            # Trial: the probed rung flows (more than the committed one sends) without loss.
            self._carried_cleanly(estimate)
            and estimate.sent_bps is not None
            and estimate.sent_bps > self._level.total_bps
        )
        ok = carried and estimate.loss_fraction < PROBE_ABORT_LOSS_FRACTION and rtt_ok
        if ok:
            if self._probe_ok_since_ms is None:
                self._probe_ok_since_ms = now_ms
            if now_ms - self._probe_ok_since_ms >= PROBE_CONFIRM_MS:
                self._probe_confirmed = level
                self._probe_confirmed_bps = estimate.available_bps
                higher = self._next_allowed(level, cap, estimate)
                if higher is None:
                    return self._commit_probe(now_ms, estimate)
                self._start_probe(now_ms, higher)
            return None
        self._probe_ok_since_ms = None
        failed = (
            estimate.loss_fraction >= PROBE_ABORT_LOSS_FRACTION
            or (estimate.rtt_ms is not None and estimate.rtt_ms >= level.max_rtt_ms)
            or now_ms - self._probe_stage_ms >= PROBE_MAX_MS
        )
        if not failed:
            return None
        if self._probe_confirmed is not None:
            return self._commit_probe(now_ms, estimate)
        self._fail_probe(now_ms)
        return None

    def _commit_probe(self, now_ms: float, estimate: Estimate) -> Decision:
        level = self._probe_confirmed
        assert level is not None  # only called after a confirmed stage
        needed = (level.total_bps * TRIAL_CARRY_FACTOR if self._probe_by_trial
                  else up_threshold_bps(level))
        reason = (
            f"up: estimate {_mbps(self._probe_confirmed_bps)} >= "
            f"{_mbps(needed)} for {level} held while probing"
        )
        if estimate.rtt_ms is not None:
            reason += f", RTT {estimate.rtt_ms:.0f} ms"
        self._last_up_ms = now_ms
        self._probe_hold_ms = UP_HOLD_MS
        return self._switch(now_ms, level, "up", reason)

    def _fail_probe(self, now_ms: float) -> None:
        self._stop_probe()
        self._headroom_since_ms = None
        self._probe_hold_ms = min(self._probe_hold_ms * 2, MAX_PROBE_HOLD_MS)
        self._last_trouble_ms = now_ms

    def _stop_probe(self) -> None:
        self._probe_level = None
        self._probe_ok_since_ms = None
        self._probe_confirmed = None

    # -- shared ---------------------------------------------------------

    def _dwell_passed(self, now_ms: float) -> bool:
        return self._last_switch_ms is None or now_ms - self._last_switch_ms >= MIN_DWELL_MS

    def _cap_reason(self, cap: QualityLevel) -> str:
        if self._server_cap is cap:
            return "server load cap"
        if self._pinned_max is cap:
            return "client's pinned maximum"
        return "source maximum"

    def _switch(
        self, now_ms: float, level: QualityLevel, kind: DecisionKind, reason: str
    ) -> Decision:
        previous = self._level
        self._stop_probe()
        self._level = level
        self._since_ms = now_ms
        self._last_switch_ms = now_ms
        self._deficit_since_ms = None
        self._headroom_since_ms = None
        return Decision(at_ms=now_ms, level=level, previous=previous, kind=kind, reason=reason)
