"""Probing for headroom: when a probe may start, at what rate, how it is judged,
and what a failed one teaches.

A receiver's estimate cannot show room far above what it receives, so the
next step's headroom has to be *probed*. Two modes:

* **Padding** (the default): the viewer stays on its step; the media path
  sends extra bytes (RTP padding, or better RTX duplicates of recent
  packets, which also shield the media from the probe's own loss) so that
  the total reaches ``probe_target_bps`` until ``probe_until_ms``
  (``PROBE_DURATION_MS`` after the start), then reports what it sent to the
  estimator. The verdict comes from the estimator
  (:mod:`adaptive.probe_judge`): carried without loss or delay growth at no
  less than the step's up threshold -> confirmed; loss, delay growth, a REMB
  cut -> failed; no covering report within ``PROBE_VERDICT_TIMEOUT_MS`` ->
  failed for lack of evidence. The latest report showing probe-window loss
  of ``PROBE_ABORT_LOSS_FRACTION`` ends the probe early.
* **By trial** (``ProbeSettings(by_trial=True)``, the fallback for a media
  path that cannot pad): the caller delivers the probed step itself for up
  to ``TRIAL_PROBE_MS``; it is confirmed when the link carries it cleanly for
  ``PROBE_CONFIRM_MS``. The viewer sees the higher step meanwhile, and a
  freeze if the link cannot carry it -- which is why padding is the default.

**A failed probe raises the bar** (per link, i.e. per policy): the probe's
rate becomes a remembered *ceiling* (the link is believed to carry less),
and the next probe at or near that rate waits a backoff after the failure,
doubling with each consecutive failure (``PROBE_BACKOFF_MS``: 5 s, 10 s,
20 s, 40 s, capped at ``MAX_PROBE_BACKOFF_MS``, 80 s). A probe well below
the ceiling (a lower step after a drop) is not held back. The ceiling is
lifted when a probe carries its rate, or when the estimate itself climbs to
``CEILING_CLEAR_FACTOR`` above it (evidence that the link changed).

**Remembered capacity works both ways.** While we send less than the link
carries nothing but a probe can tell that a constrained link has been
restored (a receiver's estimate stays within ~1.5x what it receives), so
the backoff is how late a restored link is found. A step the link carried
(it or one above it) within ``RECENTLY_FIT_MS`` (two minutes) -- the link
fell from it and may well come back, as after a spell of congestion -- is
probed again with the backoff capped at ``RECOVERY_MAX_BACKOFF_MS`` (7 s;
issue 14 asks for the top rung within 15 s of restoring after 40 s at
1,500 kbit). A step the link has not carried for longer, or never (a 4 Mbit
link under a 1080p probe), backs off on, doubling from where it is to the
full cap, so a link that stays constrained is not disturbed every few
seconds for ever. Each failed probe costs little either way: 0.3 s
of padding, stopped by the media path at ``probe_until_ms`` whatever the
feedback does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .estimate import Estimate
from .levels import QualityLevel
from .probe_judge import PROBE_VERDICT_TIMEOUT_MS
from .reasons import compare, mbps, percent, seconds

#: Margin over the seed's bandwidth threshold to step up to a step.
UP_MARGIN = 0.10
#: ... and the estimate must also be this multiple of the step's total.
UP_TOTAL_FACTOR = 1.2
#: ... or this multiple for a floor step (fewer frames of the low rung). The floor is
#: where a link is tight by definition, and its nominal rates are shares the layered
#: encoder stays under (15 fps of the 30 fps low rung: ~510 of 540 kbps): at 1.2x
#: the probe for 15 fps came to ~830 kbit on the wire with audio and headers, an
#: 800 kbit link that carries 15 fps (~680 kbit) failed it every time, and the student
#: stayed on 7.5 fps.
FLOOR_UP_TOTAL_FACTOR = 1.1
#: Probe rate relative to the up threshold, so the probe clears it.
PROBE_OVERSHOOT = 1.05
#: How long the media path pads per probe (see :mod:`adaptive.probe_judge`).
PROBE_DURATION_MS = 300
#: A padding window adds at least this many bytes above what the media sends ...
PROBE_MIN_EXCESS_BYTES = 64_000
#: ... but lasts no longer than this.
MAX_PROBE_MS = 2_000
#: Latest report loss during a probe that ends it at once.
PROBE_ABORT_LOSS_FRACTION = 0.05
#: Trial mode: how long the probed step is delivered at most ...
TRIAL_PROBE_MS = 4_000
#: ... and how long it has to be carried cleanly to be confirmed.
PROBE_CONFIRM_MS = 1_000
#: Trial mode: carrying this fraction of the step's total confirms it (encoders
#: undershoot their target a little).
TRIAL_CARRY_FACTOR = 0.9
#: Trial mode: an estimate at least this share of what is sent is limited by the sender.
SENDER_LIMITED_FACTOR = 0.95
CLEAN_LOSS_FRACTION = 0.02
#: Stepping up needs an RTT below this fraction of the target step's limit.
RTT_UP_FACTOR = 0.8
#: First wait after a failed probe before probing at that rate again; doubles per failure.
PROBE_BACKOFF_MS = 5_000
MAX_PROBE_BACKOFF_MS = 80_000
#: ... capped at this for a step the link carried within ``RECENTLY_FIT_MS``.
RECOVERY_MAX_BACKOFF_MS = 7_000
RECENTLY_FIT_MS = 120_000
#: A probe below this share of the remembered ceiling is not held back by it.
CEILING_ROOM = 0.9
#: An estimate this far above the ceiling lifts it.
CEILING_CLEAR_FACTOR = 1.1


def up_threshold_bps(level: QualityLevel) -> float:
    """Rate a probe must show carried to step up to ``level`` (seed threshold plus margin)."""
    factor = UP_TOTAL_FACTOR if level.is_rung else FLOOR_UP_TOTAL_FACTOR
    return max(level.admit_bps * (1 + UP_MARGIN), level.total_bps * factor)


def probe_bps_for(level: QualityLevel) -> float:
    """Total send rate (media plus padding) that tests whether ``level`` fits."""
    return up_threshold_bps(level) * PROBE_OVERSHOOT


def carried_cleanly(estimate: Estimate) -> bool:
    """Trial mode: the link carries what we send without loss.

    Real encoders run below their nominal rate (a still scene, a low frame
    rate), so an estimate anchored on what was sent can sit under a step's
    nominal total with nothing wrong; what says "too much" is loss, delay or
    a receiver that cut.
    """
    return (
        estimate.sent_bps is not None
        and estimate.source != "remb"
        and estimate.loss_fraction < CLEAN_LOSS_FRACTION
        and estimate.available_bps >= estimate.sent_bps * SENDER_LIMITED_FACTOR
    )


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """How a policy probes; the defaults are the padding prober of issue 14."""

    #: Deliver the probed step itself instead of padding (media path cannot pad).
    by_trial: bool = False
    duration_ms: float = PROBE_DURATION_MS
    backoff_ms: float = PROBE_BACKOFF_MS
    max_backoff_ms: float = MAX_PROBE_BACKOFF_MS
    #: Cap for probing back to a step the link carried within ``RECENTLY_FIT_MS``.
    recovery_max_backoff_ms: float = RECOVERY_MAX_BACKOFF_MS
    #: Remember a failed probe's rate as the link's ceiling (False: backoff alone).
    remember_ceiling: bool = True


#: What the server ran before issue 14: trial probes, a failure holds the next
#: probe back 6 s at most, no remembered ceiling. Kept for comparisons.
LEGACY_TRIAL = ProbeSettings(by_trial=True, backoff_ms=6_000, max_backoff_ms=6_000,
                             recovery_max_backoff_ms=6_000, remember_ceiling=False)


@dataclass(slots=True)
class ProbeStage:
    """One probe in progress."""

    level: QualityLevel
    start_ms: float
    until_ms: float
    target_bps: float
    ok_since_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    carried: bool
    #: Human-readable evidence ("a 0.3 s probe at 2.64 Mbps >= 2.52 Mbps ...").
    text: str


class ProbeController:
    """Probe stages, backoff and remembered ceiling for one link."""

    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self.stage: ProbeStage | None = None
        #: The highest step confirmed by the current chain of probes, and why.
        self.confirmed: QualityLevel | None = None
        self.confirmed_text = ""
        self.ceiling_bps: float | None = None
        self.failures = 0
        self.next_probe_ms: float | None = None
        self._backoff_ms = 0.0
        #: When each step last fit (was carried), by rank.
        self._fit_ms: dict[int, float] = {}
        #: What the last probe ended with, for logs and status.
        self.last_note: str | None = None

    @property
    def backoff_ms(self) -> float:
        """Wait after the latest failure (0 before any)."""
        return self._backoff_ms if self.failures else 0.0

    def note_fit(self, now_ms: float, level: QualityLevel) -> None:
        """``level`` was carried at ``now_ms`` (it fit, or a probe for it was carried)."""
        self._fit_ms[level.rank] = now_ms

    def _recently_fit(self, now_ms: float, level: QualityLevel) -> bool:
        """Did the link carry ``level``, or a step above it, within ``RECENTLY_FIT_MS``?"""
        return any(now_ms - at <= RECENTLY_FIT_MS
                   for rank, at in self._fit_ms.items() if rank >= level.rank)

    def target_bps(self, level: QualityLevel) -> float:
        return float(level.total_bps) if self.settings.by_trial else probe_bps_for(level)

    # -- starting -------------------------------------------------------

    def allows(self, now_ms: float, level: QualityLevel, estimate: Estimate) -> bool:
        """May a probe for ``level`` start now, given past failures?"""
        ceiling = self.ceiling_bps
        if ceiling is not None and estimate.available_bps >= ceiling * CEILING_CLEAR_FACTOR:
            self._clear("the estimate "
                        f"{compare(estimate.available_bps, '>=', ceiling * CEILING_CLEAR_FACTOR)}"
                        " cleared the remembered ceiling")
            return True
        waiting = self.next_probe_ms is not None and now_ms < self.next_probe_ms
        if not waiting:
            return True
        if ceiling is None:
            return False  # a backoff without a ceiling (``remember_ceiling=False``) holds all
        return self.target_bps(level) < ceiling * CEILING_ROOM

    def start(self, now_ms: float, level: QualityLevel, sent_bps: float | None = None) -> None:
        """Probe ``level``; ``sent_bps``: what the media sends now (the padding tops it up).

        A padding window lasts ``duration_ms``, or longer when the padding it takes
        (target less what is sent) would not add ``PROBE_MIN_EXCESS_BYTES`` within
        it, up to ``MAX_PROBE_MS``: a shaper's token bucket absorbs a smaller excess
        without loss or delay and the probe would prove nothing (``tc tbf`` with a
        20 kB burst at 800 kbit carried half a second at 1.2 Mbps). Much more than
        that is not needed: a window should fill a shaper's bucket and part of its
        queue, not overflow it. With a 500 ms minimum a probe for 720p (2.64 Mbps
        from ~1 Mbps of 480p) added ~100 kB, and into ``tc tbf rate 1500kbit burst
        20kb latency 60ms`` (a 20 kB bucket, a 31 kB queue) it began to drop media
        ~360 ms in: each cost Chromium 0.2-0.5 s of frozen picture. At 300 ms (64 kB
        take 312 ms there) the queue holds it, and the delay the window left is what
        fails it (the media path sends a sender report as the window closes, so the
        receiver's next reports carry that delay: RTT +55-73 ms). 40 kB was tried
        too: a probe for 480p from the floor on 800 kbit then showed only +23 ms and
        was judged carried.
        """
        duration = TRIAL_PROBE_MS if self.settings.by_trial else self.settings.duration_ms
        target = self.target_bps(level)
        if not self.settings.by_trial and sent_bps is not None and target > sent_bps:
            needed_ms = PROBE_MIN_EXCESS_BYTES * 8 * 1000 / (target - sent_bps)
            duration = min(max(duration, needed_ms), MAX_PROBE_MS)
        # The trial streak counts from the stage start: the first report after it
        # covers a whole interval sent at the probe rate.
        self.stage = ProbeStage(level=level, start_ms=now_ms, until_ms=now_ms + duration,
                                target_bps=target, ok_since_ms=now_ms)

    # -- judging --------------------------------------------------------

    def judge(self, now_ms: float, estimate: Estimate, current: QualityLevel) -> Verdict | None:
        stage = self.stage
        assert stage is not None  # only called while probing
        if self.settings.by_trial:
            return self._judge_trial(now_ms, estimate, current, stage)
        return self._judge_padding(now_ms, estimate, stage)

    def _judge_padding(self, now_ms: float, estimate: Estimate,
                       stage: ProbeStage) -> Verdict | None:
        needed = up_threshold_bps(stage.level)
        outcome = estimate.probe
        if outcome is not None and outcome.end_ms > stage.start_ms:
            if not outcome.carried:
                return Verdict(False, outcome.failure or "not carried")
            if outcome.bps < needed:
                return Verdict(False, f"the probe reached only {compare(outcome.bps, '<', needed)}"
                                      f" needed for {stage.level}")
            growth = ("" if outcome.rtt_growth_ms is None
                      else f", RTT {outcome.rtt_growth_ms:+.0f} ms")
            return Verdict(True, f"a {seconds(outcome.duration_ms)} probe at "
                                 f"{compare(outcome.bps, '>=', needed)} needed for "
                                 f"{stage.level} was carried (loss "
                                 f"{percent(outcome.loss_fraction)}{growth})")
        fresh_report = estimate.report_at_ms is not None and estimate.report_at_ms > stage.start_ms
        if fresh_report and estimate.loss_fraction >= PROBE_ABORT_LOSS_FRACTION:
            return Verdict(False, f"loss {percent(estimate.loss_fraction)} >= "
                                  f"{percent(PROBE_ABORT_LOSS_FRACTION)}")
        if fresh_report and estimate.remb_congested:
            return Verdict(False, "the receiver cut its estimate")
        if estimate.rtt_ms is not None and estimate.rtt_ms >= stage.level.max_rtt_ms:
            return Verdict(False, f"RTT {estimate.rtt_ms:.0f} ms >= "
                                  f"{stage.level.max_rtt_ms:.0f} ms allowed for {stage.level}")
        if now_ms >= stage.until_ms + PROBE_VERDICT_TIMEOUT_MS:
            return Verdict(False, "no receiver report covered the probe")
        return None

    def _judge_trial(self, now_ms: float, estimate: Estimate, current: QualityLevel,
                     stage: ProbeStage) -> Verdict | None:
        level = stage.level
        threshold = level.total_bps * TRIAL_CARRY_FACTOR
        rtt_ok = estimate.rtt_ms is not None and estimate.rtt_ms < level.max_rtt_ms * RTT_UP_FACTOR
        by_estimate = estimate.available_bps >= threshold
        # The probed step flows (more than the committed one sends) without loss.
        cleanly = (carried_cleanly(estimate) and estimate.sent_bps is not None
                   and estimate.sent_bps > current.total_bps)
        lossy = estimate.loss_fraction >= PROBE_ABORT_LOSS_FRACTION
        if (by_estimate or cleanly) and not lossy and rtt_ok:
            if stage.ok_since_ms is None:
                stage.ok_since_ms = now_ms
            held_ms = now_ms - stage.ok_since_ms
            if held_ms < PROBE_CONFIRM_MS:
                return None
            if by_estimate:
                return Verdict(True, f"estimate {compare(estimate.available_bps, '>=', threshold)}"
                                     f" ({TRIAL_CARRY_FACTOR:.0%} of {level}) held for "
                                     f"{seconds(held_ms)} while probing by trial")
            sent = estimate.sent_bps or 0.0
            return Verdict(True, f"{level} carried cleanly for {seconds(held_ms)} while probing "
                                 f"by trial (sent {mbps(sent)}, loss "
                                 f"{percent(estimate.loss_fraction)})")
        stage.ok_since_ms = None
        if lossy:
            return Verdict(False, f"loss {percent(estimate.loss_fraction)} >= "
                                  f"{percent(PROBE_ABORT_LOSS_FRACTION)}")
        if estimate.rtt_ms is not None and estimate.rtt_ms >= level.max_rtt_ms:
            return Verdict(False, f"RTT {estimate.rtt_ms:.0f} ms >= "
                                  f"{level.max_rtt_ms:.0f} ms allowed for {level}")
        if now_ms - stage.start_ms >= TRIAL_PROBE_MS:
            return Verdict(False, f"not carried within {seconds(TRIAL_PROBE_MS)}")
        return None

    # -- endings --------------------------------------------------------

    def confirm(self, verdict_ms: float, verdict: Verdict) -> None:
        """The stage's step is confirmed; the caller chains a higher stage or commits."""
        stage = self.stage
        assert stage is not None
        self.confirmed, self.confirmed_text = stage.level, verdict.text
        self._fit_ms[stage.level.rank] = verdict_ms
        self.last_note = f"probe for {stage.level} carried: {verdict.text}"
        if self.ceiling_bps is not None and stage.target_bps >= self.ceiling_bps * CEILING_ROOM:
            self._clear(self.last_note)
        self.stage = None

    def fail(self, now_ms: float, why: str) -> str:
        """The stage failed: remember its rate, back off; returns the note."""
        stage = self.stage
        assert stage is not None
        self.stage = None
        self.failures += 1
        cap = (self.settings.recovery_max_backoff_ms if self._recently_fit(now_ms, stage.level)
               else self.settings.max_backoff_ms)
        # Doubling from the last wait (not from the count), so that leaving the recovery
        # cap goes on 20, 40, 80 s rather than jumping to the full cap.
        grown = self.settings.backoff_ms if self.failures == 1 else self._backoff_ms * 2
        self._backoff_ms = min(grown, cap)
        self.next_probe_ms = now_ms + self._backoff_ms
        note = f"probe for {stage.level} at {mbps(stage.target_bps)} failed: {why}"
        if self.settings.remember_ceiling:
            ceiling = stage.target_bps
            if self.ceiling_bps is not None:
                ceiling = min(ceiling, self.ceiling_bps)
            self.ceiling_bps = ceiling
            note += (f"; link believed < {mbps(ceiling)}; no probe at that rate for "
                     f"{seconds(self.backoff_ms)}")
        else:
            note += f"; no probe for {seconds(self.backoff_ms)}"
        self.last_note = note
        return note

    def committed(self) -> None:
        """The confirmed step was switched to; the chain is over."""
        self.confirmed, self.confirmed_text = None, ""
        if not self.settings.remember_ceiling:
            self.failures, self.next_probe_ms = 0, None

    def stop(self) -> None:
        """Abandon a probe without learning from it (caps changed, no estimate)."""
        self.stage = None
        self.confirmed, self.confirmed_text = None, ""

    def restore(self, ceiling_bps: float | None, failures: int, backoff_ms: float,
                next_probe_ms: float | None) -> None:
        """Take over what a previous connection of the same viewer learnt."""
        if self.settings.remember_ceiling:
            self.ceiling_bps = ceiling_bps
        self.failures, self._backoff_ms, self.next_probe_ms = failures, backoff_ms, next_probe_ms

    def _clear(self, why: str) -> None:
        self.ceiling_bps = None
        self.failures, self.next_probe_ms = 0, None
        self.last_note = why
