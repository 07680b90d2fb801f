"""Synthetic link traces for the adaptive-quality tests and benchmark.

A :class:`LinkSimulator` models one bottleneck link in 100 ms ticks:

* the sender pushes ``send_bps`` into a drop-tail queue of ``queue_ms`` at the
  link's capacity; what overflows is lost, plus optional random loss;
* once a second it produces what a real receiver reports: RTCP receiver
  report fields (fraction lost, jitter, RTT = base RTT + queueing delay), a
  data-channel ping RTT, and a REMB computed GCC-style from what arrived:
  on overuse (a standing or growing queue) 0.85x the received rate,
  otherwise growing 8 %/s but not past 1.5x the received rate (arriving less
  does not lower it, as in libwebrtc's ``ClampBitrate``) -- so, as
  in real life, the receiver's estimate cannot show room far above what we
  send, and probing is needed to find it. With ``remb_start_bps`` set the
  REMB is the receiver's AIMD controller instead (libwebrtc/aiortc): it
  starts at that value (aiortc: ~300 kbps), climbs 8 %/s without jumping to
  what arrives (additively, ``AIMD_ADDITIVE_BPS_PER_S``, near the rate it
  last cut at), and is also cut when a burst pushes the queue delay above
  ``BURST_OVERUSE_MS`` within the interval;
* keyframes (``keyframe_interval_ms``/``keyframe_bytes``) arrive as bursts on
  top of the rung's rate, instantly or paced over ``burst_ms``: what does not
  fit the queue (``queue_ms``: a ``tc tbf`` of 60 ms latency and a 20 kB
  bucket holds ~100 ms at 4 Mbit/s) is lost;
* receiver reports can start late (``reports_from_ms``): aiortc's first
  report reaches the server after its first REMB.

:func:`run_policy` drives a real :class:`BandwidthEstimator` and
:class:`QualityPolicy` over a trace and returns a :class:`Timeline`. All
randomness comes from a seeded ``random.Random``, so traces are repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from adaptive import BandwidthEstimator, Decision, QualityLevel, QualityPolicy

TICK_MS = 100
REPORT_INTERVAL_MS = 1_000
#: AIMD REMB model: a queue delay peak above this within an interval is over-use.
BURST_OVERUSE_MS = 40.0
#: AIMD REMB model: additive increase near the rate of the last cut.
AIMD_ADDITIVE_BPS_PER_S = 70_000
#: libwebrtc's pacing multiplier, for paced keyframes.
PACING_FACTOR = 2.5

RateFn = Callable[[float], float]


def constant(value: float) -> RateFn:
    return lambda _t_ms: value


def steps(*points: tuple[float, float]) -> RateFn:
    """Piecewise constant: ``steps((0, 10e6), (30_000, 1.5e6))`` etc."""
    ordered = sorted(points)

    def value(t_ms: float) -> float:
        current = ordered[0][1]
        for start_ms, v in ordered:
            if t_ms >= start_ms:
                current = v
        return current

    return value


def square_wave(low: float, high: float, period_ms: float, *, start_high: bool = True) -> RateFn:
    def value(t_ms: float) -> float:
        first_half = (t_ms % period_ms) < period_ms / 2
        return high if first_half == start_high else low

    return value


@dataclass(frozen=True, slots=True)
class Trace:
    name: str
    duration_ms: float
    capacity_bps: RateFn
    base_rtt_ms: RateFn = field(default=constant(40.0))
    random_loss: RateFn = field(default=constant(0.0))
    #: The bottleneck's buffer, in ms at its capacity.
    queue_ms: float = 250.0
    #: ``None``: the optimistic REMB sketch; a rate: an AIMD REMB starting there.
    remb_start_bps: float | None = None
    #: Receiver reports (loss, jitter, RTT) reach the sender from this time on.
    reports_from_ms: float = 0.0
    #: A keyframe of ``keyframe_bytes`` on top of the rung every this many ms (0 = none).
    keyframe_interval_ms: float = 0.0
    keyframe_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    at_ms: float
    sent_bps: float
    fraction_lost: float
    jitter_ms: float
    rtt_ms: float
    ping_rtt_ms: float
    remb_bps: float
    received_bps: float
    #: False before ``reports_from_ms``: only the REMB reached the sender.
    has_receiver_report: bool = True


def _clamp_increase(previous: float, grown: float, received_bps: float) -> float:
    """libwebrtc's ``AimdRateControl::ClampBitrate``: an increase stops at 1.5x what
    arrives (+10 kbit/s), but arriving less (a quiet encoder) lowers nothing."""
    cap = 1.5 * received_bps + 10_000
    return grown if grown <= cap else max(min(previous, grown), cap)


class LinkSimulator:
    """One bottleneck link, stepped in ``TICK_MS`` ticks."""

    def __init__(self, trace: Trace, *, seed: int = 1, queue_ms: float | None = None) -> None:
        self.trace = trace
        self.now_ms = 0.0
        self._rng = random.Random(seed)
        self._queue_ms = trace.queue_ms if queue_ms is None else queue_ms
        self._queue_bits = 0.0
        self._remb_bps: float | None = trace.remb_start_bps
        self._cut_at_bps: float | None = None
        #: Bits lost in the last tick (any loss breaks frames: a freeze until repaired).
        self.tick_lost_bits = 0.0
        self._prev_delay_ms = 0.0
        #: Queue delay a sender report met when the sender sent one out of turn (the
        #: media path does as a probe window closes); the next report's RTT is its.
        self._sr_delay_ms: float | None = None
        self._reset_interval()

    def _reset_interval(self) -> None:
        self._sent_bits = 0.0
        self._lost_bits = 0.0
        self._delivered_bits = 0.0
        self._delays_ms: list[float] = []
        self._peak_delay_ms = 0.0

    def queue_delay_ms(self) -> float:
        capacity = max(self.trace.capacity_bps(self.now_ms), 1.0)
        return self._queue_bits / capacity * 1000

    def sender_report_now(self) -> None:
        """The sender sends a sender report now: the receiver's next report carries
        the round trip it met (the queue as it is now)."""
        self._sr_delay_ms = self.queue_delay_ms()

    def step(self, send_bps: float, burst_bits: float = 0.0, burst_ms: float = 0.0
             ) -> Report | None:
        """Advance one tick sending at ``send_bps``, plus a burst of ``burst_bits``
        spread over ``burst_ms`` (0: at once); return a report when one is due."""
        dt_s = TICK_MS / 1000
        capacity = max(self.trace.capacity_bps(self.now_ms), 1.0)
        limit = capacity * self._queue_ms / 1000
        burst_dropped = 0.0
        if burst_bits > 0:
            # The queue peaks when the burst has arrived; the link drains meanwhile.
            drained = min(capacity * burst_ms / 1000, burst_bits)
            burst_dropped = max(0.0, self._queue_bits + burst_bits - drained - limit)
            self._queue_bits += burst_bits - burst_dropped
            self._peak_delay_ms = max(self._peak_delay_ms,
                                      (self._queue_bits - drained) / capacity * 1000)
        offered = send_bps * dt_s
        randomly_lost = offered * self.trace.random_loss(self.now_ms)
        self._queue_bits += offered - randomly_lost
        out = min(self._queue_bits, capacity * dt_s)
        self._queue_bits -= out
        dropped = max(0.0, self._queue_bits - limit)
        self._queue_bits -= dropped
        self._sent_bits += offered + burst_bits
        self._lost_bits += randomly_lost + dropped + burst_dropped
        self.tick_lost_bits = randomly_lost + dropped + burst_dropped
        self._delivered_bits += out
        self.now_ms += TICK_MS
        self._delays_ms.append(self.queue_delay_ms())
        if self.now_ms % REPORT_INTERVAL_MS:
            return None
        return self._report()

    def _report(self) -> Report:
        interval_s = REPORT_INTERVAL_MS / 1000
        sent_bps = self._sent_bits / interval_s
        received_bps = self._delivered_bits / interval_s
        fraction_lost = self._lost_bits / self._sent_bits if self._sent_bits else 0.0
        delay_ms = sum(self._delays_ms) / len(self._delays_ms)
        spread = max(self._delays_ms) - min(self._delays_ms)
        overuse = delay_ms > 60 or delay_ms - self._prev_delay_ms > 15
        aimd = self.trace.remb_start_bps is not None
        if aimd and self._peak_delay_ms > BURST_OVERUSE_MS:
            overuse = True  # GCC's trendline sees a burst's queue within a few frames
        if overuse:
            remb = 0.85 * received_bps
            self._cut_at_bps = received_bps
        elif aimd:
            # The receiver's AIMD climbs from where it is; it does not jump to what arrives.
            # Near the rate it last cut at it climbs additively (libwebrtc's
            # AimdRateControl: about one packet per response time, ~70 kbit/s a second).
            previous = self._remb_bps or received_bps
            near_max = self._cut_at_bps is not None and received_bps >= 0.7 * self._cut_at_bps
            grown = previous + AIMD_ADDITIVE_BPS_PER_S if near_max else previous * 1.08
            remb = _clamp_increase(previous, grown, received_bps)
        else:
            previous = self._remb_bps or received_bps
            remb = _clamp_increase(previous, max(previous * 1.08, received_bps), received_bps)
        self._remb_bps = remb
        # Measurement noise on what is reported, not on the controller's own state.
        remb *= 1 + self._rng.uniform(-0.03, 0.03)
        self._prev_delay_ms = delay_ms
        base_rtt = self.trace.base_rtt_ms(self.now_ms)
        rtt_delay_ms, self._sr_delay_ms = (
            delay_ms if self._sr_delay_ms is None else self._sr_delay_ms), None
        report = Report(
            at_ms=self.now_ms,
            sent_bps=sent_bps,
            fraction_lost=min(1.0, fraction_lost),
            jitter_ms=spread / 2 + abs(self._rng.gauss(0, 2)),
            rtt_ms=base_rtt + rtt_delay_ms + abs(self._rng.gauss(0, 3)),
            ping_rtt_ms=base_rtt + delay_ms + abs(self._rng.gauss(0, 3)),
            remb_bps=remb,
            received_bps=received_bps,
            has_receiver_report=self.now_ms >= self.trace.reports_from_ms,
        )
        self._reset_interval()
        return report


def feed(estimator: BandwidthEstimator, report: Report) -> None:
    """Give ``estimator`` what a real peer connection would see for ``report``."""
    t = report.at_ms
    estimator.on_remb(t, report.remb_bps)
    estimator.on_sent_bitrate(t, report.sent_bps)
    if report.has_receiver_report:
        estimator.on_receiver_report(t, report.fraction_lost, report.jitter_ms, report.rtt_ms)
    estimator.on_probe_rtt(t, report.ping_rtt_ms)


@dataclass
class Timeline:
    """What happened over a run, sampled every tick."""

    trace: Trace
    times_ms: list[float] = field(default_factory=list)
    levels: list[QualityLevel] = field(default_factory=list)
    #: The step the viewer was actually sent each tick (the probed one in trial mode).
    delivered: list[QualityLevel] = field(default_factory=list)
    capacities_bps: list[float] = field(default_factory=list)
    probing: list[bool] = field(default_factory=list)
    #: Ticks on which the sender padded (padding probes) or sent the probed step (trial).
    probe_sending: list[bool] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    sent_bits: float = 0.0
    lost_bits: float = 0.0
    #: Ticks on which the link dropped packets (media shares the queue with padding).
    lossy_ticks: list[bool] = field(default_factory=list)

    def level_at(self, t_ms: float) -> QualityLevel:
        for time_ms, level in zip(self.times_ms, self.levels, strict=True):
            if time_ms >= t_ms:
                return level
        return self.levels[-1]

    def switches(self, start_ms: float = 0.0, end_ms: float = float("inf")) -> list[Decision]:
        return [d for d in self.decisions if start_ms <= d.at_ms < end_ms]

    def first_time(
        self, predicate: Callable[[QualityLevel], bool], after_ms: float
    ) -> float | None:
        """First time at or after ``after_ms`` whose level satisfies ``predicate``."""
        for time_ms, level in zip(self.times_ms, self.levels, strict=True):
            if time_ms >= after_ms and predicate(level):
                return time_ms
        return None

    def carried_share(self, start_ms: float = 0.0) -> float:
        """Share of ticks whose rung's total bitrate fits the link's capacity."""
        pairs = [
            level.total_bps <= capacity
            for time_ms, level, capacity in zip(
                self.times_ms, self.levels, self.capacities_bps, strict=True
            )
            if time_ms >= start_ms
        ]
        return sum(pairs) / len(pairs)

    def lossy_seconds(self, start_ms: float = 0.0, end_ms: float = float("inf")) -> float:
        """Seconds in [start, end) on which the link dropped packets."""
        ticks = sum(1 for t, lossy in zip(self.times_ms, self.lossy_ticks, strict=True)
                    if lossy and start_ms <= t < end_ms)
        return ticks * TICK_MS / 1000

    def probe_seconds(self, start_ms: float = 0.0, end_ms: float = float("inf")) -> float:
        """Seconds the sender spent sending probe traffic in [start, end)."""
        ticks = sum(1 for t, on in zip(self.times_ms, self.probe_sending, strict=True)
                    if on and start_ms <= t < end_ms)
        return ticks * TICK_MS / 1000


def run_policy(
    trace: Trace,
    policy: QualityPolicy | None = None,
    *,
    seed: int = 1,
    on_report: Callable[[float, QualityPolicy], None] | None = None,
    estimator: BandwidthEstimator | None = None,
    notify_keyframes: bool = True,
    pace_keyframes: bool = False,
    media_fill: RateFn | None = None,
) -> Timeline:
    """Drive estimator + policy over ``trace`` with a sender that does what the
    policy's state asks: the current step, padding up to the probe target
    inside the probe window (reported to the estimator when it ends), or the
    probed step itself in trial mode; keyframe bursts if the trace has them
    (told to the estimator when ``notify_keyframes``). ``media_fill`` is the
    share of a step's nominal video rate the encoder produces at each time (a
    still scene undershoots; 1 when ``None``)."""
    policy = policy if policy is not None else QualityPolicy()
    estimator = estimator if estimator is not None else BandwidthEstimator()
    link = LinkSimulator(trace, seed=seed)
    timeline = Timeline(trace=trace)
    window: list[float] | None = None  # [start ms, end ms, bits sent]
    next_keyframe_ms = trace.keyframe_interval_ms
    while link.now_ms < trace.duration_ms:
        now = link.now_ms
        state = policy.state
        fill = media_fill(now) if media_fill is not None else 1.0
        sent_level = state.level
        if state.probe_by_trial and state.probing and state.probe_level is not None:
            sent_level = state.probe_level
        send_bps = sent_level.audio_bps + sent_level.video_bps * fill
        padding = state.padding_target_bps(now)
        if padding > 0:
            send_bps = max(send_bps, padding)
            if window is None:
                window = [now, now, 0.0]
        if window is not None and padding <= 0:
            link.sender_report_now()  # as the media path does when a window closes
            estimator.on_probe_sent(now, window[0], window[1], int(window[2] / 8))
            window = None
        burst_bits = 0.0
        burst_ms = 0.0
        if trace.keyframe_interval_ms and now >= next_keyframe_ms and not state.level.audio_only:
            next_keyframe_ms += trace.keyframe_interval_ms
            burst_bits = trace.keyframe_bytes * 8.0
            if pace_keyframes:
                burst_ms = burst_bits * 1000 / (state.level.total_bps * PACING_FACTOR)
            if notify_keyframes:
                estimator.on_keyframe_sent(now, trace.keyframe_bytes)
        report = link.step(send_bps, burst_bits, burst_ms)
        if window is not None:
            window[1] = link.now_ms
            window[2] += send_bps * TICK_MS / 1000 + burst_bits
        timeline.sent_bits += send_bps * TICK_MS / 1000 + burst_bits
        if report is not None:
            timeline.lost_bits += report.sent_bps * report.fraction_lost
            if on_report is not None:
                on_report(report.at_ms, policy)
            feed(estimator, report)
            decision = policy.update(report.at_ms, estimator.estimate(report.at_ms))
            if decision is not None:
                timeline.decisions.append(decision)
        timeline.times_ms.append(link.now_ms)
        timeline.levels.append(policy.level)
        timeline.capacities_bps.append(trace.capacity_bps(link.now_ms))
        timeline.probing.append(policy.state.probing)
        timeline.probe_sending.append(
            padding > 0 or (state.probe_by_trial and state.probing))
        timeline.lossy_ticks.append(link.tick_lost_bits > 0)
        timeline.delivered.append(sent_level)
    return timeline
