"""Benchmark the adaptive-quality policy: issue 14's cases and the general traces.

    .venv/bin/python scripts/bench_adaptive.py [--seed N]

Runs deterministic synthetic traces (seeded RNG) through the link simulator
of ``tests/support/adaptive_traces.py`` and prints one JSON document. Controllers,
all on the same traces in the same run:

* ``policy`` -- what this branch does by default: padding probes on the
  current step (``PolicyState.padding_target_bps``), backoff and remembered
  ceiling, the floor below 480p (``STEPS``), keyframes told to the estimator,
  REMB ignored until it has ramped after a join;
* ``policy_trial`` -- the fallback the server runs until the padding prober
  exists: ``probe_by_trial=True`` on the three rungs (``ladder=RUNGS``), with
  the new backoff, ceiling, keyframe and join handling;
* ``main_trial`` -- what main's server ran, through the fallback flags:
  trial probes with main's 6 s retry (``LEGACY_TRIAL``), the three rungs,
  ``BandwidthEstimator(ignore_ramping_remb=False)``, no keyframe
  notifications (checked against main's own ``adaptive/`` on these traces,
  see docs/benchmarks.md);
* ``seed_oracle`` / ``seed_remb`` (general traces only) -- the seed's 5 s
  threshold poll, handed the true capacity (oracle) or the latest REMB.

Issue 14's cases:

* ``shaped_1500`` -- 10 Mbit/s, then 1,500 kbit/s from 30 s for 40 s (as in
  the Chromium test), restored at 70 s + 0..9 s (ten variants): up-step
  commits while shaped, probes and their seconds, seconds the link dropped
  packets after the first switch, seconds the viewer was *sent* a step above
  the one it is on (trial excursions), recovery to the top rung;
* ``shaped_1500_5min`` -- the same link kept for 5 min: how the probes back off;
* ``keyframes_4000`` -- a 4,000 kbit/s ``tc tbf`` (60 ms, 20 kB: ~100 ms of
  queue), 720p with a 68 kB keyframe every 3 s / 2 s / 1 s (PLIs from other
  viewers add keyframes), 3 seeds each: down-switches, the lowest estimate,
  loss; ``policy_paced`` also paces the keyframes (``adaptive.Pacer``);
* ``join_ramp`` -- an unshaped join asking for 1080p, aiortc's REMB ramping
  from 300 kbps, the first receiver report after 2.5 s: down-switches in the
  first 10 s;
* ``floor_800`` -- 10 Mbit/s, then 800 kbit/s from 30 s: the step chosen,
  the frame rate it implies for a 30 fps source, share of time on a step that
  fits the link at >= 10 fps.

Runs in about ten seconds.
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
    LEGACY_TRIAL,
    LOW,
    MEDIUM,
    RUNGS,
    STEPS,
    BandwidthEstimator,
    QualityLevel,
    QualityPolicy,
    start_level,
)
from tests.support.adaptive_traces import (
    TICK_MS,
    LinkSimulator,
    Report,
    Timeline,
    Trace,
    constant,
    run_policy,
    steps,
)

SEED_POLL_MS = 5_000
MINUTE_MS = 60_000
SOURCE_FPS = 30
# Off the 1 s report and 5 s poll grids, so no controller is lucky by phase.
DROP_AT_MS = 62_300
RESTORE_AT_MS = 122_300
FLUCTUATION_OFFSET_MS = 2_300
#: The link comes back at RESTORE_AT_MS plus each of these (ten variants), so
#: recovery is measured at every phase of the probe schedule.
RESTORE_OFFSETS_MS = tuple(range(0, 10_000, 1_000))
#: The seed baselines run once per poll phase; their figures are averaged.
SEED_PHASES_MS = (0, 1000, 2000, 3000, 4000)
SHAPE_AT_MS = 30_000
SHAPED_FOR_MS = 40_000
POLICIES = ("policy", "policy_trial", "main_trial")


# -- controllers ----------------------------------------------------------


def run_variant(variant: str, trace: Trace, seed: int, *, initial: QualityLevel = LOW,
                on_report: Callable[[float, QualityPolicy], None] | None = None,
                estimator: BandwidthEstimator | None = None) -> Timeline:
    """One policy controller over ``trace``: ``policy``, ``policy_paced``,
    ``policy_trial`` or ``main_trial`` (see the module docstring)."""
    if variant == "main_trial":
        policy = QualityPolicy(initial_level=initial, probe=LEGACY_TRIAL, ladder=RUNGS)
        estimator = estimator or BandwidthEstimator(ignore_ramping_remb=False)
        return run_policy(trace, policy, seed=seed, estimator=estimator, on_report=on_report,
                          notify_keyframes=False)
    ladder = RUNGS if variant == "policy_trial" else STEPS
    policy = QualityPolicy(initial_level=initial, probe_by_trial=variant == "policy_trial",
                           ladder=ladder)
    return run_policy(trace, policy, seed=seed, estimator=estimator or BandwidthEstimator(),
                      on_report=on_report, pace_keyframes=variant == "policy_paced")


def seed_pick(bandwidth_kbps: float, latency_ms: float) -> QualityLevel:
    """The seed's ``adaptQuality``, verbatim thresholds."""
    if bandwidth_kbps > 5000 and latency_ms < 100:
        return HIGH
    if bandwidth_kbps > 2000 and latency_ms < 300:
        return MEDIUM
    return LOW


@dataclass
class SeedRun:
    levels: list[QualityLevel] = field(default_factory=list)
    capacities: list[float] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)
    switches: int = 0
    sent_bits: float = 0.0
    lost_bits: float = 0.0


def run_seed(trace: Trace, seed: int, *, oracle: bool, phase_ms: int) -> SeedRun:
    """The seed's threshold poll every ``SEED_POLL_MS``; ``oracle`` reads the true link."""
    link = LinkSimulator(trace, seed=seed)
    run = SeedRun()
    level = LOW
    last: Report | None = None
    while link.now_ms < trace.duration_ms:
        report = link.step(float(level.total_bps))
        if report is not None:
            run.sent_bits += report.sent_bps
            run.lost_bits += report.sent_bps * report.fraction_lost
            last = report
        now = link.now_ms
        if not (now - phase_ms) % SEED_POLL_MS:
            if oracle:
                bandwidth = trace.capacity_bps(now)
                latency = trace.base_rtt_ms(now) + link.queue_delay_ms()
            elif last is not None:
                bandwidth, latency = last.remb_bps, last.rtt_ms
            else:
                bandwidth, latency = 0.0, 0.0
            chosen = seed_pick(bandwidth / 1000, latency) if bandwidth else level
            if chosen is not level:
                level, run.switches = chosen, run.switches + 1
        run.times_ms.append(now)
        run.levels.append(level)
        run.capacities.append(trace.capacity_bps(now))
    return run


# -- general traces -------------------------------------------------------


def _first_after(times: list[float], levels: list[QualityLevel], capacities: list[float],
                 after_ms: float, ok: Callable[[QualityLevel, float], bool]) -> float | None:
    for t, level, capacity in zip(times, levels, capacities, strict=True):
        if t >= after_ms and ok(level, capacity):
            return (t - after_ms) / 1000
    return None


def summarise(trace: Trace, times: list[float], levels: list[QualityLevel],
              capacities: list[float], switches: int, sent_bits: float, lost_bits: float,
              probing_s: float) -> dict[str, float | None]:
    carried = [lv.total_bps <= cap for lv, cap in zip(levels, capacities, strict=True)]
    result: dict[str, float | None] = {
        "switches_per_min": switches / (trace.duration_ms / MINUTE_MS),
        "carried_share": sum(carried) / len(carried),
        "lost_share": lost_bits / sent_bits if sent_bits else 0.0,
        "probing_s": probing_s,
        "time_below_low": sum(lv.rank < LOW.rank for lv in levels) / len(levels),
    }
    for level in (LOW, MEDIUM, HIGH):
        result[f"time_at_{level.name}"] = sum(lv is level for lv in levels) / len(levels)
    if trace.name.startswith("step_drop"):
        restore_ms = RESTORE_AT_MS + int(trace.name.rsplit("+", 1)[1])
        before = levels[int(DROP_AT_MS / TICK_MS) - 2]
        result["rank_before_drop"] = before.rank
        result["react_s"] = _first_after(times, levels, capacities, DROP_AT_MS,
                                         lambda lv, cap: lv.total_bps <= cap)
        result["recover_s"] = _first_after(times, levels, capacities, restore_ms,
                                           lambda lv, _cap: lv.rank >= before.rank)
    return result


def aggregate(runs: list[dict[str, float | None]]) -> dict[str, object]:
    """Mean over runs; reaction and recovery also get their max."""
    result: dict[str, object] = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        if any(v is None for v in values):
            result[key] = None  # never happened in at least one run
            continue
        numbers = [float(v) for v in values if v is not None]
        result[key] = round(sum(numbers) / len(numbers), 3)
        if key.endswith("_s") and key not in ("probing_s",) and len(numbers) > 1:
            result[key.removesuffix("_s") + "_max_s"] = round(max(numbers), 3)
    return result


def general_traces(seed: int) -> dict[str, list[Trace]]:
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
    families = [
        Trace("stable_10mbps", 300_000, lambda t: 10e6 * stable_noise[int(t // 1000) % 600]),
        Trace("fluctuating_1.5_8mbps", 300_000,
              lambda t: fluctuating[int((t + FLUCTUATION_OFFSET_MS) // 5000) % 120]),
        Trace("lossy_bursts", 300_000, constant(10e6), random_loss=steps(*bursts)),
        Trace("high_rtt_150ms", 300_000, constant(10e6),
              base_rtt_ms=lambda t: 150 + rtt_noise[int(t // 1000) % 600]),
    ]
    traces = {trace.name: [trace] for trace in families}
    traces["step_drop"] = [
        Trace(f"step_drop+{offset}", RESTORE_AT_MS + offset + 60_000,
              steps((0, 10e6), (DROP_AT_MS, 1.5e6), (RESTORE_AT_MS + offset, 10e6)))
        for offset in RESTORE_OFFSETS_MS
    ]
    return traces


def bench_general(seed: int) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, variants in general_traces(seed).items():
        results[name] = {}
        for variant in POLICIES:
            runs = []
            for trace in variants:
                tl = run_variant(variant, trace, seed)
                runs.append(summarise(trace, tl.times_ms, tl.levels, tl.capacities_bps,
                                      len(tl.decisions), tl.sent_bits, tl.lost_bits,
                                      tl.probe_seconds()))
            results[name][variant] = aggregate(runs)
        for oracle in (True, False):
            runs = []
            for trace in variants:
                for phase in SEED_PHASES_MS:
                    run = run_seed(trace, seed, oracle=oracle, phase_ms=phase)
                    runs.append(summarise(trace, run.times_ms, run.levels, run.capacities,
                                          run.switches, run.sent_bits, run.lost_bits, 0.0))
            results[name]["seed_oracle" if oracle else "seed_remb"] = aggregate(runs)
    return results


# -- issue 14 cases -------------------------------------------------------


def _probe_starts(tl: Timeline, start_ms: float, end_ms: float) -> list[float]:
    starts = []
    before = False
    for t, on in zip(tl.times_ms, tl.probe_sending, strict=True):
        if on and not before and start_ms <= t < end_ms:
            starts.append(t)
        before = on
    return starts


def _excursion_s(tl: Timeline, start_ms: float, end_ms: float) -> float:
    """Seconds the viewer was sent a step above the one the policy is on (trial probes)."""
    ticks = sum(1 for t, sent, level in zip(tl.times_ms, tl.delivered, tl.levels, strict=True)
                if start_ms <= t < end_ms and sent.rank > level.rank)
    return ticks * TICK_MS / 1000


def shaped_1500(seed: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for variant in POLICIES:
        runs = []
        for offset in RESTORE_OFFSETS_MS:
            restore = SHAPE_AT_MS + SHAPED_FOR_MS + offset
            trace = Trace(f"shaped+{offset}", restore + 40_000,
                          steps((0, 10e6), (SHAPE_AT_MS, 1.5e6), (restore, 10e6)))
            tl = run_variant(variant, trace, seed)
            first = next(d.at_ms for d in tl.decisions if d.at_ms >= SHAPE_AT_MS)
            back = tl.first_time(lambda level: level is HIGH, restore)
            runs.append({
                "up_commits_shaped": float(sum(1 for d in tl.switches(first, restore)
                                               if d.kind == "up")),
                "probes_shaped": float(len(_probe_starts(tl, first, restore))),
                "probe_s_shaped": tl.probe_seconds(first, restore),
                "excursion_s_shaped": _excursion_s(tl, first + TICK_MS, restore),
                "lossy_s_after_first_switch": tl.lossy_seconds(first + 1000, restore),
                "recover_s": None if back is None else (back - restore) / 1000,
            })
        out[variant] = aggregate(runs)
    return out


def shaped_1500_long(seed: int) -> dict[str, object]:
    out: dict[str, object] = {}
    end = SHAPE_AT_MS + 300_000
    trace = Trace("shaped_5min", end, steps((0, 10e6), (SHAPE_AT_MS, 1.5e6)))
    for variant in POLICIES:
        tl = run_variant(variant, trace, seed)
        first = next(d.at_ms for d in tl.decisions if d.at_ms >= SHAPE_AT_MS)
        starts = _probe_starts(tl, first, end)
        out[variant] = {
            "up_commits": sum(1 for d in tl.switches(first, end) if d.kind == "up"),
            "probes": len(starts),
            "probe_gaps_s": [round((b - a) / 1000, 1) for a, b in zip(starts, starts[1:],
                                                                      strict=False)],
            "probe_s": tl.probe_seconds(first, end),
            "excursion_s": _excursion_s(tl, first + TICK_MS, end),
            "lossy_s": tl.lossy_seconds(first + 1000, end),
        }
    return out


def keyframes_4000(seed: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for interval in (3000, 2000, 1000):
        per_variant: dict[str, object] = {}
        for variant in (*POLICIES, "policy_paced"):
            runs = []
            for run_seed_ in (seed, seed + 1, seed + 2):
                trace = Trace("keyframes", 120_000, constant(4e6), queue_ms=100,
                              remb_start_bps=3e6, keyframe_interval_ms=interval,
                              keyframe_bytes=68_000)
                estimator = BandwidthEstimator(ignore_ramping_remb=variant != "main_trial")
                lows: list[float] = []
                tl = run_variant(variant, trace, run_seed_, initial=MEDIUM, estimator=estimator,
                                 on_report=lambda t, _p, e=estimator, out_=lows:
                                 out_.append(e.estimate(t).available_bps))
                probing = sum(tl.probe_sending) * TICK_MS / 1000
                runs.append({
                    "down_switches": float(sum(1 for d in tl.decisions if d.kind == "down")),
                    "runs_with_a_down_switch": float(any(d.kind == "down"
                                                         for d in tl.decisions)),
                    "min_estimate_mbps": min(lows[2:]) / 1e6,
                    "lost_share": tl.lost_bits / tl.sent_bits,
                    "probing_s": probing,
                })
            per_variant[variant] = aggregate(runs)
        out[f"every_{interval // 1000}s"] = per_variant
    return out


def join_ramp(seed: int) -> dict[str, object]:
    out: dict[str, object] = {}
    trace = Trace("join", 30_000, constant(10e6), remb_start_bps=300e3, reports_from_ms=2_500)
    for variant in POLICIES:
        tl = run_variant(variant, trace, seed, initial=start_level(asked=HIGH))
        early = tl.switches(0, 10_000)
        out[variant] = {
            "down_switches_first_10s": sum(1 for d in early if d.kind == "down"),
            "first_down_s": early[0].at_ms / 1000 if early else None,
            "first_down_reason": early[0].reason if early else None,
            "level_at_10s": tl.level_at(10_000).name,
        }
    return out


def floor_800(seed: int) -> dict[str, object]:
    out: dict[str, object] = {}
    end = 150_000
    trace = Trace("800k", end, steps((0, 10e6), (SHAPE_AT_MS, 0.8e6)))
    for variant in POLICIES:
        tl = run_variant(variant, trace, seed)
        first = next(d for d in tl.decisions if d.at_ms >= SHAPE_AT_MS)
        after = [(t, lv) for t, lv in zip(tl.times_ms, tl.levels, strict=True)
                 if t > first.at_ms]
        fits = [lv.total_bps <= 800_000 for _, lv in after]
        floor = next((d for d in tl.decisions if d.at_ms >= SHAPE_AT_MS and not d.level.is_rung),
                     None)
        out[variant] = {
            "first_switch_s": (first.at_ms - SHAPE_AT_MS) / 1000,
            "step": first.level.name,
            # From a rung above low the floor is entered at low, then judged from there.
            "floor_step": floor.level.name if floor is not None else None,
            "to_floor_s": (floor.at_ms - SHAPE_AT_MS) / 1000 if floor is not None else None,
            "step_at_end": tl.levels[-1].name,
            "forwards": f"{first.level.rung}, {first.level.temporal_layers} temporal layer(s)",
            "step_total_kbps": first.level.total_kbps,
            "fps_at_30fps_source": first.level.fps(SOURCE_FPS),
            "notice": first.notice,
            "share_on_a_step_that_fits": sum(fits) / len(fits),
            # A step above the link's rate loses packets in every frame: ~1 fps decoded
            # (issue 14), whatever its nominal rate.
            "share_moving_at_10fps_or_more": sum(
                lv.fps(SOURCE_FPS) >= 10 and fit for (_, lv), fit in zip(after, fits, strict=True)
            ) / len(after),
            "lost_share": tl.lost_bits / tl.sent_bits,
            "steps_seen": sorted({lv.name for _, lv in after}),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240611, help="RNG seed for the traces")
    args = parser.parse_args()
    print(json.dumps({
        "seed": args.seed,
        "issue14": {
            "shaped_1500": shaped_1500(args.seed),
            "shaped_1500_5min": shaped_1500_long(args.seed),
            "keyframes_4000": keyframes_4000(args.seed),
            "join_ramp": join_ramp(args.seed),
            "floor_800": floor_800(args.seed),
        },
        "traces": bench_general(args.seed),
    }, indent=2))


if __name__ == "__main__":
    main()
