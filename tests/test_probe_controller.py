"""Probing without switching steps: windows, verdicts, backoff and the remembered ceiling."""

from __future__ import annotations

import pytest

from adaptive import HIGH, LOW, LOW_HALF, MEDIUM, Estimate, ProbeOutcome, QualityPolicy
from adaptive.policy import UP_HOLD_MS, PolicyState
from adaptive.probe_controller import (
    MAX_PROBE_BACKOFF_MS,
    PROBE_BACKOFF_MS,
    PROBE_DURATION_MS,
    RECENTLY_FIT_MS,
    RECOVERY_MAX_BACKOFF_MS,
    ProbeController,
    ProbeSettings,
    probe_bps_for,
    up_threshold_bps,
)
from tests.support.adaptive_traces import Trace, run_policy, steps


def _estimate(now_ms: float, available_bps: float, **fields: object) -> Estimate:
    values: dict[str, object] = {
        "at_ms": now_ms, "available_bps": available_bps, "rtt_ms": 40.0,
        "loss_fraction": 0.0, "smoothed_loss_fraction": 0.0, "jitter_ms": 5.0,
        "source": "loss", "confidence": "high", "input_age_ms": 0.0, "remb_bps": None,
        "loss_based_bps": available_bps, "goodput_bps": None, "sent_bps": None,
        "report_at_ms": now_ms,
    }
    values.update(fields)
    return Estimate(**values)  # type: ignore[arg-type]  # test helper, fields checked above


def _outcome(state: PolicyState, at_ms: float, carried: bool, **fields: object) -> ProbeOutcome:
    assert state.probe_started_ms is not None and state.probe_until_ms is not None
    values: dict[str, object] = {
        "start_ms": state.probe_started_ms, "end_ms": state.probe_until_ms,
        "bps": state.probe_target_bps, "carried": carried, "at_ms": at_ms,
        "loss_fraction": 0.0 if carried else 0.2, "rtt_growth_ms": 1.0,
        "failure": None if carried else "loss 20.0% >= 5.0%",
    }
    values.update(fields)
    return ProbeOutcome(**values)  # type: ignore[arg-type]  # test helper


def _drive(policy: QualityPolicy, end_ms: int, carried: bool,
           available_bps: float | None = None) -> list[float]:
    """Feed a clean link for [0, end_ms) in 1 s reports; every probe ends as ``carried``.
    Returns the probe start times."""
    starts: list[float] = []
    for t in range(0, end_ms, 1000):
        state = policy.state
        outcome = None
        if state.probing:
            assert state.probe_started_ms is not None
            if not starts or starts[-1] != state.probe_started_ms:
                starts.append(state.probe_started_ms)
            outcome = _outcome(state, t, carried)
        sent = policy.level.total_bps
        rate = available_bps if available_bps is not None else sent * 1.4
        policy.update(t, _estimate(t, rate, sent_bps=sent, probe=outcome))
    return starts


def test_an_estimate_above_the_threshold_alone_does_not_commit_a_padding_probe() -> None:
    # The padding window is half a second; only a verdict on it (the media path's
    # report of what it sent, judged by the estimator) may commit the step.
    policy = QualityPolicy(initial_level=LOW)
    for t in range(0, 30_000, 1000):
        # Above medium's up threshold (2.52 Mbps) all along, but no probe verdict.
        policy.update(t, _estimate(t, 2.6e6, sent_bps=LOW.total_bps))

    assert policy.level is LOW
    assert policy.state.last_probe is not None
    assert "no receiver report covered the probe" in policy.state.last_probe


def test_a_failed_probe_sets_the_ceiling_and_the_backoff_doubles_up_to_the_cap() -> None:
    policy = QualityPolicy(initial_level=MEDIUM, ladder=(LOW, MEDIUM, HIGH))

    starts = _drive(policy, 400_000, carried=False)

    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # Each gap is the backoff, 5, 10, 20, 40, 80, 80 s (the first also waits for the
    # clean streak that precedes every probe: UP_HOLD_MS after the failed probe's report).
    expected = [min(PROBE_BACKOFF_MS * 2**k, MAX_PROBE_BACKOFF_MS) for k in range(len(gaps))]
    assert len(gaps) >= 5
    for gap, backoff in zip(gaps, expected, strict=True):
        assert backoff <= gap <= max(backoff, UP_HOLD_MS + 1000) + 1000, (gaps, expected)
    state = policy.state
    assert state.level is MEDIUM
    assert state.ceiling_bps == pytest.approx(probe_bps_for(HIGH))
    assert state.probe_backoff_ms == MAX_PROBE_BACKOFF_MS
    assert "link believed < 5.83 Mbps" in (state.last_probe or "")


def test_probing_back_to_a_step_the_link_carried_lately_backs_off_7_s_at_most() -> None:
    # The link carried high; it drops to 1.5 Mbit/s for 4 minutes. For a minute after the
    # drop medium is probed again every ~7 s (a restored link is found within seconds);
    # after that, the link having stayed constrained, the probes back off exponentially.
    trace = Trace("drop", 270_000, steps((0, 10e6), (30_000, 1.5e6)))

    timeline = run_policy(trace)

    (down,) = timeline.switches(30_000)
    starts = [t for t, on, before in zip(timeline.times_ms, timeline.probe_sending,
                                         [False, *timeline.probe_sending], strict=False)
              if on and not before and t > down.at_ms]
    early = [t for t in starts if t <= down.at_ms + RECENTLY_FIT_MS]
    early_gaps = [b - a for a, b in zip(early, early[1:], strict=False)]
    late_gaps = [b - a for a, b in zip(starts[len(early) - 1:], starts[len(early):],
                                       strict=False)]
    assert len(early) >= 4
    # The backoff is capped; the comfort hold runs alongside it (doubled to 10 s here: the
    # drop undid the climb to high), and the probe and its verdict take ~1.5 s.
    assert max(early_gaps) <= max(RECOVERY_MAX_BACKOFF_MS, 2 * UP_HOLD_MS) + 3_000
    assert len(late_gaps) >= 2 and late_gaps == sorted(late_gaps)
    assert late_gaps[-1] >= 4 * RECOVERY_MAX_BACKOFF_MS
    assert down.kind == "down"


def test_a_probe_well_below_the_ceiling_is_not_held_back() -> None:
    controller = ProbeController(ProbeSettings())
    controller.start(0, HIGH)
    controller.fail(1000, "loss 20.0% >= 5.0%")
    clean = _estimate(2000, 3e6)

    assert controller.ceiling_bps == pytest.approx(probe_bps_for(HIGH))
    assert not controller.allows(2000, HIGH, clean)  # at the ceiling: wait the backoff
    assert controller.allows(2000, MEDIUM, clean)  # 2.64 Mbps, far below 5.83 Mbps
    assert controller.allows(1000 + PROBE_BACKOFF_MS, HIGH, clean)  # backoff over


def _drive_from(policy: QualityPolicy, start_ms: int, end_ms: int) -> list[float]:
    starts = []
    for t in range(start_ms, end_ms, 1000):
        state = policy.state
        if state.probing and state.probe_started_ms not in starts:
            assert state.probe_started_ms is not None
            starts.append(state.probe_started_ms)
        sent = policy.level.total_bps
        policy.update(t, _estimate(t, sent * 1.4, sent_bps=sent))
    return starts


def test_an_estimate_clearly_above_the_ceiling_lifts_it() -> None:
    policy = QualityPolicy(initial_level=MEDIUM)
    _drive(policy, 20_000, carried=False)
    ceiling = policy.state.ceiling_bps
    assert ceiling is not None and policy.state.next_probe_ms is not None

    t = 20_000
    policy.update(t, _estimate(t, ceiling * 1.2, sent_bps=MEDIUM.total_bps))

    state = policy.state
    assert state.ceiling_bps is None
    assert state.probing and state.probe_level is HIGH
    assert "cleared the remembered ceiling" in (state.last_probe or "")


def test_a_carried_verdict_short_of_the_up_threshold_does_not_commit() -> None:
    # The media path could only pad to 2.3 Mbps: not evidence for medium's 2.52 Mbps.
    policy = QualityPolicy(initial_level=LOW)
    for t in range(0, 40_000, 1000):
        state = policy.state
        outcome = _outcome(state, t, True, bps=2.3e6) if state.probing else None
        policy.update(t, _estimate(t, LOW.total_bps * 1.4, sent_bps=LOW.total_bps,
                                   probe=outcome))

    assert policy.level is LOW
    assert "reached only 2.30 Mbps < 2.52 Mbps needed for medium" in (policy.state.last_probe
                                                                      or "")


def test_a_carried_probe_commits_with_a_reason_that_names_its_evidence() -> None:
    policy = QualityPolicy(initial_level=LOW, ladder=(LOW, MEDIUM, HIGH), source_max=MEDIUM)
    decisions = []
    for t in range(0, 30_000, 1000):
        state = policy.state
        outcome = _outcome(state, t, True) if state.probing else None
        sent = policy.level.total_bps
        decision = policy.update(t, _estimate(t, sent * 1.4, sent_bps=sent, probe=outcome))
        if decision is not None:
            decisions.append(decision)

    (decision,) = decisions
    assert decision.level is MEDIUM and decision.kind == "up"
    needed = up_threshold_bps(MEDIUM)
    assert decision.reason == (
        f"up: a {PROBE_DURATION_MS / 1000:.1f} s probe at 2.64 Mbps >= {needed / 1e6:.2f} Mbps "
        "needed for medium was carried (loss 0.0%, RTT +1 ms)")
    assert decision.notice == "Your connection improved: showing a higher resolution."


def test_a_restored_memory_keeps_the_next_connection_from_probing_early() -> None:
    first = QualityPolicy(initial_level=MEDIUM)
    _drive(first, 40_000, carried=False)
    memory = first.memory(40_000)
    assert memory.ceiling_bps is not None and memory.next_probe_ms is not None

    again = QualityPolicy(initial_level=MEDIUM, memory=memory)
    starts = _drive_from(again, 41_000, int(memory.next_probe_ms) + 10_000)

    assert starts and min(starts) >= memory.next_probe_ms
    assert again.state.ceiling_bps == memory.ceiling_bps


def test_a_small_padding_excess_gets_a_longer_window() -> None:
    from adaptive.levels import LOW, MEDIUM
    from adaptive.probe_controller import (
        MAX_PROBE_MS,
        PROBE_DURATION_MS,
        PROBE_MIN_EXCESS_BYTES,
        ProbeController,
        ProbeSettings,
        probe_bps_for,
    )

    controller = ProbeController(ProbeSettings())
    # low_half (0.57 Mbps sent) probing low (1.22 Mbps): 0.5 s would add 41 kB, which a
    # 20 kB token bucket plus a 60 ms queue at 800 kbit nearly absorb.
    controller.start(0, LOW, sent_bps=570_000)
    assert controller.stage is not None
    expected = PROBE_MIN_EXCESS_BYTES * 8000 / (probe_bps_for(LOW) - 570_000)
    assert controller.stage.until_ms == pytest.approx(expected)
    assert PROBE_DURATION_MS < controller.stage.until_ms < MAX_PROBE_MS
    # low (0.96 Mbps) probing medium (2.64 Mbps): 64 kB take 0.3 s; a 500 ms window
    # added ~105 kB, more than a 1.5 Mbit tbf's bucket and queue hold (media was lost).
    controller.start(0, MEDIUM, sent_bps=964_000)
    assert controller.stage.until_ms == pytest.approx(
        PROBE_MIN_EXCESS_BYTES * 8000 / (probe_bps_for(MEDIUM) - 964_000))
    assert controller.stage.until_ms < 320
    controller.start(0, HIGH, sent_bps=2_096_000)  # 1080p: a large excess, the minimum
    assert controller.stage.until_ms == PROBE_DURATION_MS
    controller.start(0, LOW, sent_bps=1_300_000)  # the media alone reaches the target
    assert controller.stage.until_ms == PROBE_DURATION_MS
    controller.start(0, LOW, sent_bps=1_200_000)  # 15 kbps to add: the cap, not minutes
    assert controller.stage.until_ms == MAX_PROBE_MS


def test_a_floor_step_is_probed_at_a_rate_a_link_that_carries_it_can_show() -> None:
    # 15 fps of the low rung sends ~510 kbps of video plus 64 kbps of audio (~680 kbit on
    # the wire); an 800 kbit link carries that, so the probe for it must fit in 800 kbit
    # with audio and headers (~10 % on top), while still asking for more than the step.
    assert LOW_HALF.total_bps < up_threshold_bps(LOW_HALF) < probe_bps_for(LOW_HALF)
    assert probe_bps_for(LOW_HALF) * 1.1 < 800_000
    # The encoded rungs keep their margin (a rung's encoder overshoots more).
    assert up_threshold_bps(LOW) == LOW.total_bps * 1.2
    assert up_threshold_bps(MEDIUM) == MEDIUM.total_bps * 1.2
