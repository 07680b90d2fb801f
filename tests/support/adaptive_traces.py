"""Synthetic link traces for the adaptive-quality tests and benchmark.

A :class:`LinkSimulator` models one bottleneck link in 100 ms ticks:

* the sender pushes ``send_bps`` into a drop-tail queue of ``queue_ms`` at the
  link's capacity; what overflows is lost, plus optional random loss;
* once a second it produces what a real receiver reports: RTCP receiver
  report fields (fraction lost, jitter, RTT = base RTT + queueing delay), a
  data-channel ping RTT, and a REMB computed GCC-style from what arrived:
  on overuse (a standing or growing queue) 0.85x the received rate,
  otherwise growing 8 %/s but never above 1.5x the received rate -- so, as
  in real life, the receiver's estimate cannot show room far above what we
  send, and probing is needed to find it.

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


class LinkSimulator:
    """One bottleneck link, stepped in ``TICK_MS`` ticks."""

    def __init__(self, trace: Trace, *, seed: int = 1, queue_ms: float = 250.0) -> None:
        self.trace = trace
        self.now_ms = 0.0
        self._rng = random.Random(seed)
        self._queue_ms = queue_ms
        self._queue_bits = 0.0
        self._remb_bps: float | None = None
        self._prev_delay_ms = 0.0
        self._reset_interval()

    def _reset_interval(self) -> None:
        self._sent_bits = 0.0
        self._lost_bits = 0.0
        self._delivered_bits = 0.0
        self._delays_ms: list[float] = []

    def queue_delay_ms(self) -> float:
        capacity = max(self.trace.capacity_bps(self.now_ms), 1.0)
        return self._queue_bits / capacity * 1000

    def step(self, send_bps: float) -> Report | None:
        """Advance one tick sending at ``send_bps``; return a report when one is due."""
        dt_s = TICK_MS / 1000
        capacity = max(self.trace.capacity_bps(self.now_ms), 1.0)
        offered = send_bps * dt_s
        randomly_lost = offered * self.trace.random_loss(self.now_ms)
        self._queue_bits += offered - randomly_lost
        out = min(self._queue_bits, capacity * dt_s)
        self._queue_bits -= out
        limit = capacity * self._queue_ms / 1000
        dropped = max(0.0, self._queue_bits - limit)
        self._queue_bits -= dropped
        self._sent_bits += offered
        self._lost_bits += randomly_lost + dropped
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
        if overuse:
            remb = 0.85 * received_bps
        else:
            grown = (self._remb_bps or received_bps) * 1.08
            remb = min(max(grown, received_bps), 1.5 * received_bps + 10_000)
        remb *= 1 + self._rng.uniform(-0.03, 0.03)
        self._remb_bps = remb
        self._prev_delay_ms = delay_ms
        base_rtt = self.trace.base_rtt_ms(self.now_ms)
        report = Report(
            at_ms=self.now_ms,
            sent_bps=sent_bps,
            fraction_lost=min(1.0, fraction_lost),
            jitter_ms=spread / 2 + abs(self._rng.gauss(0, 2)),
            rtt_ms=base_rtt + delay_ms + abs(self._rng.gauss(0, 3)),
            ping_rtt_ms=base_rtt + delay_ms + abs(self._rng.gauss(0, 3)),
            remb_bps=remb,
            received_bps=received_bps,
        )
        self._reset_interval()
        return report


def feed(estimator: BandwidthEstimator, report: Report) -> None:
    """Give ``estimator`` what a real peer connection would see for ``report``."""
    t = report.at_ms
    estimator.on_sent_bitrate(t, report.sent_bps)
    estimator.on_receiver_report(t, report.fraction_lost, report.jitter_ms, report.rtt_ms)
    estimator.on_remb(t, report.remb_bps)
    estimator.on_probe_rtt(t, report.ping_rtt_ms)


@dataclass
class Timeline:
    """What happened over a run, sampled every tick."""

    trace: Trace
    times_ms: list[float] = field(default_factory=list)
    levels: list[QualityLevel] = field(default_factory=list)
    capacities_bps: list[float] = field(default_factory=list)
    probing: list[bool] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

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


def run_policy(
    trace: Trace,
    policy: QualityPolicy | None = None,
    *,
    seed: int = 1,
    on_report: Callable[[float, QualityPolicy], None] | None = None,
) -> Timeline:
    """Drive estimator + policy over ``trace``; the sender pads while probing."""
    policy = policy if policy is not None else QualityPolicy()
    estimator = BandwidthEstimator()
    link = LinkSimulator(trace, seed=seed)
    timeline = Timeline(trace=trace)
    while link.now_ms < trace.duration_ms:
        state = policy.state
        send_bps = max(float(state.level.total_bps), state.probe_bps)
        report = link.step(send_bps)
        if report is not None:
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
    return timeline
