"""Benchmark the adaptive-quality policy against the seed's 5 s threshold poll.

    .venv/bin/python scripts/bench_adaptive.py [--seed N]

Runs deterministic synthetic traces (seeded RNG) through the link simulator
of ``tests/adaptive_traces.py`` and prints one JSON document:

* ``policy`` -- :class:`adaptive.BandwidthEstimator` + :class:`adaptive.QualityPolicy`,
  sending padding while the policy probes;
* ``seed_oracle`` -- the seed's ``AdaptiveQualityManager``: every 5 s pick by
  threshold (> 5000 kbps and < 100 ms: high; > 2000 kbps and < 300 ms:
  medium; else low), no hysteresis. It is handed the *true* link capacity
  and RTT at each poll, which no real monitor has -- the generous case;
* ``seed_remb`` -- the same logic fed what a server really sees, the latest
  REMB and RTT; since a receiver's estimate stays within ~1.5x of what it
  receives, it cannot see room for a higher rung.

Metrics: reaction to the 10 -> 1.5 Mbps drop (until the rung fits the link),
recovery after the link comes back (until back at the pre-drop rung),
switches per minute, share of time on a rung the link can carry (the rung's
total bitrate <= capacity), share of sent bits lost, and seconds spent
probing. Runs in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Imports below need the path fix-up above (ruff accepts them after sys.path edits).
from adaptive import (
    HIGH,
    LOW,
    MEDIUM,
    BandwidthEstimator,
    QualityLevel,
    QualityPolicy,
)
from tests.support.adaptive_traces import (
    TICK_MS,
    LinkSimulator,
    Report,
    Trace,
    constant,
    feed,
    steps,
)

SEED_POLL_MS = 5_000
MINUTE_MS = 60_000
# Off the 1 s report and 5 s poll grids, so no controller is lucky by phase.
DROP_AT_MS = 62_300
RESTORE_AT_MS = 122_300
FLUCTUATION_OFFSET_MS = 2_300
#: The link comes back at RESTORE_AT_MS plus each of these (ten step_drop
#: variants), so recovery is measured at every phase of the probe schedule.
RESTORE_OFFSETS_MS = tuple(range(0, 10_000, 1_000))
#: The seed baselines run once per poll phase; their figures are averaged.
SEED_PHASES_MS = (0, 1000, 2000, 3000, 4000)


def seed_pick(bandwidth_kbps: float, latency_ms: float) -> QualityLevel:
    """The seed's ``adaptQuality``, verbatim thresholds."""
    if bandwidth_kbps > 5000 and latency_ms < 100:
        return HIGH
    if bandwidth_kbps > 2000 and latency_ms < 300:
        return MEDIUM
    return LOW


class Controller:
    name = ""

    @property
    def level(self) -> QualityLevel:
        raise NotImplementedError

    def send_bps(self) -> float:
        return float(self.level.total_bps)

    def probing(self) -> bool:
        return False

    def on_tick(self, now_ms: float, link: LinkSimulator) -> None:
        """Called every tick (for the poll-based baselines)."""

    def on_report(self, report: Report) -> bool:
        """Take a receiver report; return True if the rung changed."""
        return False


class PolicyController(Controller):
    name = "policy"

    def __init__(self) -> None:
        self.estimator = BandwidthEstimator()
        self.policy = QualityPolicy()

    @property
    def level(self) -> QualityLevel:
        return self.policy.level

    def send_bps(self) -> float:
        return max(float(self.policy.level.total_bps), self.policy.state.probe_bps)

    def probing(self) -> bool:
        return self.policy.state.probing

    def on_report(self, report: Report) -> bool:
        feed(self.estimator, report)
        decision = self.policy.update(report.at_ms, self.estimator.estimate(report.at_ms))
        return decision is not None


class TrialPolicyController(PolicyController):
    """What the server runs: no padding, the probed rung itself is the probe."""

    name = "policy_trial"

    def __init__(self) -> None:
        self.estimator = BandwidthEstimator()
        self.policy = QualityPolicy(probe_by_trial=True)

    def send_bps(self) -> float:
        state = self.policy.state
        if state.probing and state.probe_level is not None:
            return float(state.probe_level.total_bps)
        return float(self.policy.level.total_bps)


class SeedController(Controller):
    """Fixed thresholds every ``SEED_POLL_MS``; ``oracle`` reads the true link."""

    def __init__(self, *, oracle: bool, phase_ms: int = 0) -> None:
        self.name = "seed_oracle" if oracle else "seed_remb"
        self._oracle = oracle
        self._phase_ms = phase_ms
        self._level = LOW
        self._last: Report | None = None
        self.switched = False

    @property
    def level(self) -> QualityLevel:
        return self._level

    def on_report(self, report: Report) -> bool:
        self._last = report
        switched, self.switched = self.switched, False
        return switched

    def on_tick(self, now_ms: float, link: LinkSimulator) -> None:
        if (now_ms - self._phase_ms) % SEED_POLL_MS:
            return
        if self._oracle:
            trace = link.trace
            bandwidth = trace.capacity_bps(now_ms)
            latency = trace.base_rtt_ms(now_ms) + link.queue_delay_ms()
        elif self._last is not None:
            bandwidth, latency = self._last.remb_bps, self._last.rtt_ms
        else:
            return
        chosen = seed_pick(bandwidth / 1000, latency)
        if chosen is not self._level:
            self._level = chosen
            self.switched = True


@dataclass
class Run:
    times_ms: list[float] = field(default_factory=list)
    levels: list[QualityLevel] = field(default_factory=list)
    capacities: list[float] = field(default_factory=list)
    switch_times_ms: list[float] = field(default_factory=list)
    sent_bits: float = 0.0
    lost_bits: float = 0.0
    probing_ticks: int = 0


def simulate(trace: Trace, controller: Controller, seed: int) -> Run:
    link = LinkSimulator(trace, seed=seed)
    run = Run()
    while link.now_ms < trace.duration_ms:
        before = controller.level
        report = link.step(controller.send_bps())
        if controller.probing():
            run.probing_ticks += 1
        if report is not None:
            run.sent_bits += report.sent_bps
            run.lost_bits += report.sent_bps * report.fraction_lost
            controller.on_report(report)
        controller.on_tick(link.now_ms, link)
        if controller.level is not before:
            run.switch_times_ms.append(link.now_ms)
        run.times_ms.append(link.now_ms)
        run.levels.append(controller.level)
        run.capacities.append(trace.capacity_bps(link.now_ms))
    return run


def first_time(
    run: Run, after_ms: float, ok: Callable[[QualityLevel, float], bool]
) -> float | None:
    for t, level, capacity in zip(run.times_ms, run.levels, run.capacities, strict=True):
        if t >= after_ms and ok(level, capacity):
            return t - after_ms
    return None


def summarise(trace: Trace, run: Run) -> dict[str, float | None]:
    carried = [
        level.total_bps <= capacity
        for level, capacity in zip(run.levels, run.capacities, strict=True)
    ]
    result: dict[str, float | None] = {
        "switches_per_min": len(run.switch_times_ms) / (trace.duration_ms / MINUTE_MS),
        "carried_share": sum(carried) / len(carried),
        "lost_share": run.lost_bits / run.sent_bits if run.sent_bits else 0.0,
        "probing_s": run.probing_ticks * TICK_MS / 1000,
    }
    for level in (LOW, MEDIUM, HIGH):
        result[f"time_at_{level.name}"] = sum(lv is level for lv in run.levels) / len(run.levels)
    if trace.name.startswith("step_drop"):
        restore_ms = RESTORE_AT_MS + int(trace.name.rsplit("+", 1)[1])
        before = run.levels[int(DROP_AT_MS / TICK_MS) - 2]
        react = first_time(run, DROP_AT_MS, lambda lv, cap: lv.total_bps <= cap)
        recover = first_time(run, restore_ms, lambda lv, _cap: lv.rank >= before.rank)
        result["rank_before_drop"] = before.rank
        result["react_s"] = None if react is None else react / 1000
        result["recover_s"] = None if recover is None else recover / 1000
    return result


def aggregate(runs: list[dict[str, float | None]]) -> dict[str, object]:
    """Mean over runs (poll phases); reaction and recovery also get their max."""
    result: dict[str, object] = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        if any(v is None for v in values):
            result[key] = None  # never happened in at least one phase
            continue
        numbers = [float(v) for v in values if v is not None]
        result[key] = round(sum(numbers) / len(numbers), 3)
        if key in ("react_s", "recover_s") and len(numbers) > 1:
            result[key.replace("_s", "_max_s")] = round(max(numbers), 3)
    return result


def build_traces(seed: int) -> dict[str, list[Trace]]:
    """Trace families by name; a family has several variants (step_drop)."""
    rng = random.Random(seed)
    stable_noise = [rng.uniform(0.9, 1.1) for _ in range(600)]
    fluctuating = [rng.uniform(1.5e6, 8e6) for _ in range(120)]
    bursts: list[tuple[float, float]] = [(0, 0.0)]
    t_ms = 10_000.0
    while t_ms < 300_000:
        length_ms = rng.choice((1000, 2000, 3000))
        bursts += [(t_ms, rng.uniform(0.2, 0.4)), (t_ms + length_ms, 0.0)]
        t_ms += rng.uniform(15_000, 25_000)
    rtt_noise = [rng.uniform(-10, 10) for _ in range(600)]
    step_drops = [
        Trace(
            f"step_drop+{offset}",
            RESTORE_AT_MS + offset + 60_000,
            steps((0, 10e6), (DROP_AT_MS, 1.5e6), (RESTORE_AT_MS + offset, 10e6)),
        )
        for offset in RESTORE_OFFSETS_MS
    ]
    families = [
        Trace("stable_10mbps", 300_000, lambda t: 10e6 * stable_noise[int(t // 1000) % 600]),
        Trace(
            "fluctuating_1.5_8mbps",
            300_000,
            lambda t: fluctuating[int((t + FLUCTUATION_OFFSET_MS) // 5000) % 120],
        ),
        Trace("lossy_bursts", 300_000, constant(10e6), random_loss=steps(*bursts)),
        Trace(
            "high_rtt_150ms",
            300_000,
            constant(10e6),
            base_rtt_ms=lambda t: 150 + rtt_noise[int(t // 1000) % 600],
        ),
    ]
    traces = {trace.name: [trace] for trace in families}
    traces["step_drop"] = step_drops
    return traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240611, help="RNG seed for the traces")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    for name, variants in build_traces(args.seed).items():
        policy_runs = [
            summarise(trace, simulate(trace, PolicyController(), args.seed)) for trace in variants
        ]
        trial_runs = [
            summarise(trace, simulate(trace, TrialPolicyController(), args.seed))
            for trace in variants
        ]
        results[name] = {"policy": aggregate(policy_runs), "policy_trial": aggregate(trial_runs)}
        for oracle in (True, False):
            seed_runs = [
                summarise(
                    trace, simulate(trace, SeedController(oracle=oracle, phase_ms=p), args.seed)
                )
                for trace in variants
                for p in SEED_PHASES_MS
            ]
            results[name]["seed_oracle" if oracle else "seed_remb"] = aggregate(seed_runs)
    print(json.dumps({"seed": args.seed, "traces": results}, indent=2))


if __name__ == "__main__":
    main()
