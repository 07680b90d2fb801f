"""Per-viewer choice of quality step from bandwidth estimates, with hysteresis.

The seed picks a rung from thresholds every 5 s (> 5000 kbps and RTT
< 100 ms: high; > 2000 kbps and < 300 ms: medium; else low). A switch is
visible to students, so this policy keeps the seed's thresholds but moves
asymmetrically, over a ladder (:mod:`adaptive.levels`) that by default
reaches below the lowest rung: 480p at half and a quarter of the frame
rate, then audio with a still picture.

**Down, fast.** The current step *fits* while the estimate is at least its
total bitrate (``CARRY_FACTOR``) -- or the link carries what we send without
loss, for an encoder below its nominal rate -- the RTT is below the step's
seed limit and the latest report's loss (keyframe bursts forgiven, see the
estimator) is under ``HEAVY_LOSS_FRACTION``. When it has not fit for
``DOWN_HOLD_MS`` (two reports, so a single bad report is tolerated) the
policy drops straight to the highest step that fits the estimate (or the
arriving rate a receiver that cut its REMB measured), but no lower than the
lowest rung from a higher one: the floor is judged from reports of low, not
of a rung overshooting the link. A down-step waits for
``MIN_DWELL_MS`` since the previous switch unless the congestion is
*severe* (estimate below ``SEVERE_FACTOR`` of the step, or loss at least
``SEVERE_LOSS_FRACTION``): then it goes on the second report that shows it
(``SEVERE_DOWN_HOLD_MS``) and skips the dwell, because waiting would mean
seconds of frozen video.

**Loss without delay.** When the step misses only through loss while the
receiver's delay-based estimate (REMB) still covers it and the RTT is fine,
the loss is most likely not congestion (Wi-Fi, a lossy last mile): a lower
step would not lose less. Such a miss must last ``LOSS_ONLY_DOWN_HOLD_MS``
and is never severe. Without a fresh REMB loss is taken as congestion.

**Delay without loss.** The mirror case: the receiver's delay-based
estimate (REMB) cut below the step while no report shows loss, the
loss-based estimate still covers the step and the RTT is fine. A shaper's
queue that fills drops packets within a report or two; a delay signal
alone is mostly jitter (a receiver or a server short of CPU: Chromium on a
busy machine cut its REMB on an unshaped veth and dropped a student from
720p). Such a miss must also last ``LOSS_ONLY_DOWN_HOLD_MS`` and is never
severe.

**Up, slow and verified.** Headroom above what is sent cannot be seen, only
probed (:mod:`adaptive.probe_controller`; padding on the current step by
default, the probed step itself with ``probe_by_trial``). The policy
probes the next step when the current one has been comfortable (estimate
at least ``COMFORT_FACTOR`` of its total, each report's loss under
``CLEAN_LOSS_FRACTION``, RTT under ``RTT_UP_FACTOR`` of the next step's
limit; against what is sent when the encoder runs below the step's nominal
rate) for ``up_hold_ms``, ``MIN_DWELL_MS`` has passed since the last switch
and past failures allow it (backoff, remembered ceiling). A confirmed probe
moves on to the step above if allowed (a recovered link goes from low to
high in one switch) and commits the highest step it confirmed.

**Anti-flap.** An up-step undone within ``FAILED_UP_WINDOW_MS`` doubles the
hold before the next up-step, up to ``MAX_UP_HOLD_MS``; after
``BACKOFF_RESET_MS`` without trouble the hold returns to ``UP_HOLD_MS``.

**Caps.** A client-pinned maximum, a server-imposed cap (load shedding) and
the source's own maximum are applied at the next :meth:`QualityPolicy.update`
and, when they lower the step, at once regardless of dwell: they are
decisions, not measurements. They cap from above; the floor steps stay
available under any cap.

Without a fresh estimate (``confidence == "none"``) the policy holds: it has
nothing to justify a switch with. Every :class:`Decision` carries a reason
for logs (figures that agree with their comparison signs, see
:mod:`adaptive.reasons`) and a ``notice`` a student can be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .decision import Decision, DecisionKind, PolicyState
from .estimate import Estimate
from .fit import (
    CARRY_FACTOR,
    SEVERE_FACTOR,
    SEVERE_LOSS_FRACTION,
    deficit_reason,
    delay_only,
    fits,
    fits_for_down,
    headroom_bps,
    loss_only,
)
from .join import LinkMemory
from .levels import LOW, STEPS, QualityLevel, level_above, level_below, lowest_cap
from .probe_controller import (
    CLEAN_LOSS_FRACTION,
    PROBE_ABORT_LOSS_FRACTION,
    RTT_UP_FACTOR,
    ProbeController,
    ProbeSettings,
    probe_bps_for,
    up_threshold_bps,
)
from .reasons import CapCause, compare, notice, seconds

__all__ = [
    "PROBE_ABORT_LOSS_FRACTION",
    "Decision",
    "PolicyState",
    "ProbeSettings",
    "QualityPolicy",
    "probe_bps_for",
    "up_threshold_bps",
]

#: Fewest milliseconds between two switches (severe congestion and caps excepted).
MIN_DWELL_MS = 10_000
#: The current step has to miss for this long before stepping down.
DOWN_HOLD_MS = 1_500
#: ... or this long when the congestion is severe (two reports, about a second apart).
SEVERE_DOWN_HOLD_MS = 900
#: ... or this long when the miss is loss alone (see "Loss without delay").
LOSS_ONLY_DOWN_HOLD_MS = 5_000

#: How long the current step must be comfortable before probing the next.
UP_HOLD_MS = 5_000
MAX_UP_HOLD_MS = 60_000
#: After an up-step a padding probe verified, the next probe waits only this long:
#: the link has just shown it carries more, and the probe memory still holds back a
#: rate that failed (a doubled hold after one failed up-step kept a restored link on
#: the floor for 30 s, one rung at a time).
CHAIN_HOLD_MS = 2_000
FAILED_UP_WINDOW_MS = 30_000
BACKOFF_RESET_MS = 180_000
COMFORT_FACTOR = 1.25

class QualityPolicy:
    """Chooses the step for one viewer; feed it one estimate per report."""

    def __init__(
        self,
        *,
        initial_level: QualityLevel = LOW,
        pinned_max: QualityLevel | None = None,
        server_cap: QualityLevel | None = None,
        source_max: QualityLevel | None = None,
        probe_by_trial: bool | None = None,
        probe: ProbeSettings | None = None,
        ladder: Sequence[QualityLevel] = STEPS,
        memory: LinkMemory | None = None,
    ) -> None:
        """``ladder``: the steps to choose among (``STEPS``: with the floor below
        low; ``RUNGS``: the encoded rungs only, for a media path that cannot drop
        temporal layers). ``probe``: how to probe (``probe_by_trial`` overrides its
        ``by_trial``). ``memory``: what this viewer's previous connection learnt.
        """
        settings = probe if probe is not None else ProbeSettings()
        if probe_by_trial is not None:
            settings = replace(settings, by_trial=probe_by_trial)
        self._probes = ProbeController(settings)
        self._ladder = tuple(sorted(ladder, key=lambda step: step.rank))
        self._memory = memory
        self._pinned_max = pinned_max
        self._server_cap = server_cap
        self._source_max = source_max
        self._level = self._on_ladder(min(initial_level, self.max_level, key=lambda lv: lv.rank))
        self._since_ms: float | None = None
        self._last_switch_ms: float | None = None
        self._last_up_ms: float | None = None
        self._last_trouble_ms: float | None = None
        self._deficit_since_ms: float | None = None
        self._headroom_since_ms: float | None = None
        self._up_hold_ms: float = UP_HOLD_MS
        self._floor_entered_ms: float | None = None

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
    def ladder(self) -> tuple[QualityLevel, ...]:
        return self._ladder

    @property
    def state(self) -> PolicyState:
        stage = self._probes.stage
        return PolicyState(
            level=self._level,
            since_ms=self._since_ms,
            max_level=self.max_level,
            probing=stage is not None,
            probe_level=stage.level if stage is not None else None,
            probe_target_bps=stage.target_bps if stage is not None else 0.0,
            probe_started_ms=stage.start_ms if stage is not None else None,
            probe_until_ms=stage.until_ms if stage is not None else None,
            probe_by_trial=self._probes.settings.by_trial,
            up_hold_ms=self._up_hold_ms,
            probe_backoff_ms=self._probes.backoff_ms,
            next_probe_ms=self._probes.next_probe_ms,
            ceiling_bps=self._probes.ceiling_bps,
            last_probe=self._probes.last_note,
        )

    def memory(self, now_ms: float, estimate: Estimate | None = None) -> LinkMemory:
        """What this link showed, for the viewer's next connection."""
        capacity = (estimate.available_bps
                    if estimate is not None and estimate.confidence != "none" else None)
        probes = self._probes
        return LinkMemory(at_ms=now_ms, capacity_bps=capacity, ceiling_bps=probes.ceiling_bps,
                          probe_failures=probes.failures, probe_backoff_ms=probes.backoff_ms,
                          next_probe_ms=probes.next_probe_ms)

    # -- the decision ---------------------------------------------------

    def update(self, now_ms: float, estimate: Estimate) -> Decision | None:
        """Take one estimate; return a :class:`Decision` if the step changes."""
        if self._since_ms is None:
            self._since_ms = now_ms
            memory, self._memory = self._memory, None
            if memory is not None and memory.fresh(now_ms):
                self._probes.restore(memory.ceiling_bps, memory.probe_failures,
                                     memory.probe_backoff_ms, memory.next_probe_ms)
        if self._last_trouble_ms is not None and now_ms - self._last_trouble_ms >= BACKOFF_RESET_MS:
            self._up_hold_ms = UP_HOLD_MS
            self._last_trouble_ms = None

        cap = self._on_ladder(self.max_level)
        if self._level.rank > cap.rank:
            cause = self._cap_cause(self.max_level)
            return self._switch(now_ms, cap, "cap", f"cap: {cause} allows at most {cap}", cause)
        stage = self._probes.stage
        if stage is not None and stage.level.rank > cap.rank:
            self._probes.stop()
        if estimate.confidence == "none":
            self._probes.stop()
            self._deficit_since_ms = None
            self._headroom_since_ms = None
            return None

        if self._probes.stage is not None:
            decision = self._on_probe(now_ms, estimate, cap)
            # A report that ended a probe describes the probe traffic, not the
            # step: judge the step again on the next one.
            if decision is not None or self._probes.stage is None:
                self._deficit_since_ms = None
                return decision
        if not fits(self._level, estimate):
            return self._on_deficit(now_ms, estimate)
        self._deficit_since_ms = None
        if estimate.loss_fraction < CLEAN_LOSS_FRACTION:
            self._probes.note_fit(now_ms, self._level)
        if self._probes.stage is None:
            self._consider_probe(now_ms, estimate, cap)
        return None

    # -- down -----------------------------------------------------------

    def _on_deficit(self, now_ms: float, estimate: Estimate) -> Decision | None:
        if self._probes.stage is not None:
            # The probe itself may have caused this; either way it has failed.
            self._probes.fail(now_ms, f"{self._level} stopped fitting")
        self._headroom_since_ms = None
        if self._deficit_since_ms is None:
            self._deficit_since_ms = now_ms
        missing_ms = now_ms - self._deficit_since_ms
        by_loss = loss_only(self._level, estimate)
        by_delay = not by_loss and delay_only(self._level, estimate)
        severe = not by_loss and not by_delay and (
            estimate.available_bps < self._level.total_bps * SEVERE_FACTOR
            or estimate.loss_fraction >= SEVERE_LOSS_FRACTION
        )
        # Severe congestion acts on the second report that shows it (one bad report is
        # still tolerated): every second above the link's capacity is a second of frozen
        # video, because frames cannot be completed.
        hold_ms = (SEVERE_DOWN_HOLD_MS if severe
                   else LOSS_ONLY_DOWN_HOLD_MS if by_loss or by_delay else DOWN_HOLD_MS)
        if missing_ms < hold_ms or self._level is self._ladder[0]:
            return None
        if not severe and not self._dwell_passed(now_ms):
            return None
        target = self._ladder[0]
        for candidate in self._ladder:
            if candidate.rank < self._level.rank and fits_for_down(candidate, estimate):
                target = candidate
        reason = f"down: {deficit_reason(self._level, estimate)} for {seconds(missing_ms)}"
        # The steps from the floor's entry on down are one retreat: they double no hold.
        continuing = (self._floor_entered_ms is not None
                      and self._floor_entered_ms == self._last_switch_ms)
        entry = self._floor_entry()
        if self._level.rank > entry.rank > target.rank:
            # The floor (fewer frames) is entered from the lowest rung only: a report of a
            # higher rung overshooting the link measures a collapsing queue, not the link.
            # Chromium joining at 720p on 1,800 kbit read 0.52 Mbps and got a quarter of
            # the frames for 20 s; low itself fitted. A second of low costs less.
            target = entry
            reason += f"; {entry} first, the floor is judged from there"
            self._floor_entered_ms = now_ms
        elif (self._level is entry and (first := level_below(entry, self._ladder)) is not None
              and first.rank > target.rank):
            # The same from the lowest rung into the floor: what arrives while 480p
            # overflows a link is no measure of it (Chromium at 800 kbit read 0.49 Mbps,
            # 50 % lost, and got a quarter of the frames for 16 s where half of them fit).
            # If half the frames do not fit either, the next report says so.
            target = first
            reason += f"; {first} first, the floor is judged from there"
            self._floor_entered_ms = now_ms
        if (estimate.remb_congested and estimate.remb_bps is not None
                and estimate.available_bps < target.total_bps * CARRY_FACTOR
                <= estimate.remb_bps):
            reason += (f"; {target} fits what the receiver sees arriving "
                       f"({compare(estimate.remb_bps, '>=', target.total_bps * CARRY_FACTOR)})")
        if by_loss:
            reason += " (loss without a delay signal)"
        if by_delay:
            reason += " (the receiver's delay signal without loss)"
        if severe and not self._dwell_passed(now_ms):
            reason += " (severe: dwell skipped)"
        if continuing:
            self._floor_entered_ms = now_ms
        if (self._last_up_ms is not None and now_ms - self._last_up_ms < FAILED_UP_WINDOW_MS
                and not continuing):
            self._up_hold_ms = min(self._up_hold_ms * 2, MAX_UP_HOLD_MS)
            self._last_trouble_ms = now_ms
            reason += f"; the last up-step did not hold, next one after {seconds(self._up_hold_ms)}"
        return self._switch(now_ms, target, "down", reason)

    # -- up -------------------------------------------------------------

    def _next_allowed(
        self, level: QualityLevel, cap: QualityLevel, estimate: Estimate
    ) -> QualityLevel | None:
        nxt = level_above(level, self._ladder)
        if nxt is None or nxt.rank > cap.rank:
            return None
        if estimate.rtt_ms is None or estimate.rtt_ms >= nxt.max_rtt_ms * RTT_UP_FACTOR:
            return None  # the seed rules the step out on RTT alone; no RTT, no step up
        return nxt

    def _consider_probe(self, now_ms: float, estimate: Estimate, cap: QualityLevel) -> None:
        nxt = self._next_allowed(self._level, cap, estimate)
        # Headroom is measured against what is sent: an encoder below its nominal rate
        # cannot show room above the nominal rate, and a padding probe tests the real
        # link whatever the media does. A trial probe *is* the (undershooting) media and
        # proves little, so trial mode keeps asking for room above the nominal rate.
        base = float(self._level.total_bps)
        if not self._probes.settings.by_trial and estimate.sent_bps is not None:
            base = min(base, estimate.sent_bps)
        room = (estimate.available_bps if self._probes.settings.by_trial
                else headroom_bps(self._level, estimate))
        comfortable = (
            nxt is not None
            and room >= base * COMFORT_FACTOR
            # Each report of the streak must be clean; the streak is the smoothing (an
            # EWMA would keep a failed probe's own loss around for three more reports).
            and estimate.loss_fraction < CLEAN_LOSS_FRACTION
        )
        if not comfortable or nxt is None:
            self._headroom_since_ms = None
            return
        if self._headroom_since_ms is None:
            self._headroom_since_ms = now_ms
        # The dwell keeps a probe from following a down-step closely; after a verified
        # up-step the next probe may look further up at once (padding shows nothing).
        verified_up = (not self._probes.settings.by_trial and self._last_up_ms is not None
                       and self._last_switch_ms == self._last_up_ms)
        settled = self._dwell_passed(now_ms) or verified_up
        hold_ms = min(self._up_hold_ms, CHAIN_HOLD_MS) if verified_up else self._up_hold_ms
        if (now_ms - self._headroom_since_ms >= hold_ms and settled
                and self._probes.allows(now_ms, nxt, estimate)):
            self._probes.start(now_ms, nxt, estimate.sent_bps)

    def _on_probe(self, now_ms: float, estimate: Estimate, cap: QualityLevel) -> Decision | None:
        probes = self._probes
        verdict = probes.judge(now_ms, estimate, self._level)
        if verdict is None:
            return None
        stage = probes.stage
        assert stage is not None
        if verdict.carried:
            probes.confirm(now_ms, verdict)
            higher = self._next_allowed(stage.level, cap, estimate)
            if higher is not None and probes.allows(now_ms, higher, estimate):
                probes.start(now_ms, higher, estimate.sent_bps)
                return None
            return self._commit_probe(now_ms, "")
        note = probes.fail(now_ms, verdict.text)
        if probes.confirmed is not None:
            return self._commit_probe(now_ms, f"; then {note}")
        self._headroom_since_ms = None
        self._last_trouble_ms = now_ms
        return None

    def _commit_probe(self, now_ms: float, suffix: str) -> Decision:
        probes = self._probes
        level = probes.confirmed
        assert level is not None  # only called after a confirmed stage
        reason = f"up: {probes.confirmed_text}{suffix}"
        probes.committed()
        self._last_up_ms = now_ms
        return self._switch(now_ms, level, "up", reason)

    # -- shared ---------------------------------------------------------

    def _on_ladder(self, level: QualityLevel) -> QualityLevel:
        """The highest ladder step at or below ``level`` (the floor if none)."""
        below = [step for step in self._ladder if step.rank <= level.rank]
        return below[-1] if below else self._ladder[0]

    def _floor_entry(self) -> QualityLevel:
        """The lowest encoded rung on the ladder: where the floor steps are entered from."""
        return next((step for step in self._ladder if step.is_rung), self._ladder[0])

    def _dwell_passed(self, now_ms: float) -> bool:
        return self._last_switch_ms is None or now_ms - self._last_switch_ms >= MIN_DWELL_MS

    def _cap_cause(self, cap: QualityLevel) -> CapCause:
        if self._server_cap is cap:
            return "server load cap"
        if self._pinned_max is cap:
            return "client's pinned maximum"
        return "source maximum"

    def _switch(self, now_ms: float, level: QualityLevel, kind: DecisionKind, reason: str,
                cause: CapCause | None = None) -> Decision:
        previous = self._level
        self._probes.stop()
        self._level = level
        self._since_ms = now_ms
        self._last_switch_ms = now_ms
        self._deficit_since_ms = None
        self._headroom_since_ms = None
        return Decision(at_ms=now_ms, level=level, previous=previous, kind=kind, reason=reason,
                        notice=notice(previous, level, kind, cause))
