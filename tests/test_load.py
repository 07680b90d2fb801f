"""LoadShedder: shedding by sustained load, with hysteresis."""

from __future__ import annotations

import random

import pytest

from adaptive import HIGH, LOW, MEDIUM, Change, LoadShedder, combine_load
from adaptive.load import ENTER_HOLDS_MS, RECOVER_HOLD_MS, SMOOTHING_WINDOW_MS


def _feed(shedder: LoadShedder, start_ms: int, end_ms: int, load: float) -> list[Change]:
    """Samples every 500 ms in [start_ms, end_ms)."""
    changes: list[Change] = []
    for t in range(start_ms, end_ms, 500):
        changes += shedder.update(t, load)
    return changes


def _first(changes: list[Change], step: int) -> float:
    return min(c.at_ms for c in changes if c.step == step)


@pytest.mark.parametrize(
    ("cpu", "lag_ms", "expected"),
    [(0.2, 5.0, 0.2), (0.2, 85.0, 0.85), (0.95, 0.0, 0.95), (1.4, 0.0, 1.0), (0.1, 500.0, 1.0)],
)
def test_combine_load_takes_the_worse_resource(cpu: float, lag_ms: float, expected: float) -> None:
    assert combine_load(cpu, lag_ms) == pytest.approx(expected)


def test_idle_server_restricts_nothing() -> None:
    shedder = LoadShedder()

    assert _feed(shedder, 0, 30_000, 0.5) == []
    state = shedder.state
    assert (state.step, state.max_level, state.visuals_allowed, state.expensive_ai_allowed) == (
        0, HIGH, True, True)
    assert state.sustained_load == pytest.approx(0.5)


@pytest.mark.parametrize("burst_ms", [1000, 2000, 3000])
def test_a_join_burst_of_full_cpu_sheds_nothing(burst_ms: int) -> None:
    # A few peers' DTLS handshakes and first keyframes: the CPU (and the loop lag) pinned
    # for a second or three over a 0.3 baseline. Issue 14: two students took the server to
    # step 3 at their join and capped both at 480p for 13 s.
    shedder = LoadShedder()
    changes = _feed(shedder, 0, 20_000, 0.3)
    changes += _feed(shedder, 20_000, 20_000 + burst_ms, 1.0)
    changes += _feed(shedder, 20_000 + burst_ms, 60_000, 0.3)

    assert changes == []
    assert shedder.state.step == 0


def test_sustained_overload_sheds_in_steps_within_seconds() -> None:
    shedder = LoadShedder()
    _feed(shedder, 0, 10_000, 0.3)

    changes = _feed(shedder, 10_000, 30_000, 1.0)

    # The 6 s mean passes 0.7 after ~3.4 s, 0.9 after ~5.1 s; then each step's hold.
    assert 10_000 + 3_000 + ENTER_HOLDS_MS[0] <= _first(changes, 1) <= 10_000 + 6_000
    assert _first(changes, 3) <= 10_000 + 5_500 + ENTER_HOLDS_MS[2]
    assert shedder.state.step == 3
    assert "(6 s mean)" in changes[0].reason


def test_load_above_0_7_caps_streaming_after_the_window_and_the_hold() -> None:
    shedder = LoadShedder()

    early = _feed(shedder, 0, SMOOTHING_WINDOW_MS + ENTER_HOLDS_MS[0], 0.75)
    changes = shedder.update(SMOOTHING_WINDOW_MS + ENTER_HOLDS_MS[0], 0.75)

    assert early == []  # no full window yet, then the hold
    assert [(c.feature, c.restricted, c.max_level) for c in changes] == [
        ("streaming_quality", True, MEDIUM)
    ]
    assert changes[0].reason.startswith("load 0.75 > 0.70 for 2.0 s")
    assert shedder.state.step == 1
    assert shedder.state.visuals_allowed and shedder.state.expensive_ai_allowed


def test_overload_enters_the_steps_in_order_of_their_cost() -> None:
    shedder = LoadShedder()

    changes = _feed(shedder, 0, 15_000, 0.95)

    assert {c.feature for c in changes} == {"streaming_quality", "visuals", "expensive_ai"}
    entered = [_first(changes, step) for step in (1, 2, 3)]
    assert entered == sorted(entered)
    assert [b - a for a, b in zip(entered, entered[1:], strict=False)] == [
        ENTER_HOLDS_MS[1] - ENTER_HOLDS_MS[0], ENTER_HOLDS_MS[2] - ENTER_HOLDS_MS[1]]
    state = shedder.state
    assert (state.step, state.max_level, state.visuals_allowed, state.expensive_ai_allowed) == (
        3, LOW, False, False)


def test_load_between_0_8_and_0_9_limits_visuals_but_keeps_ai() -> None:
    shedder = LoadShedder()

    _feed(shedder, 0, 15_000, 0.85)

    assert shedder.state.step == 2
    assert not shedder.state.visuals_allowed
    assert shedder.state.expensive_ai_allowed
    assert shedder.state.max_level is MEDIUM


def test_recovery_needs_margin_and_time() -> None:
    shedder = LoadShedder()
    _feed(shedder, 0, 10_000, 0.75)
    assert shedder.state.step == 1

    # Below 0.7 but not below 0.6: stay degraded however long it lasts.
    assert _feed(shedder, 10_000, 70_000, 0.65) == []
    assert shedder.state.step == 1

    changes = _feed(shedder, 70_000, 90_000, 0.5)
    (change,) = changes
    assert (change.feature, change.restricted, change.max_level) == (
        "streaming_quality", False, HIGH)
    # The mean falls below 0.6 a few seconds in, then the recovery hold.
    assert 70_000 + RECOVER_HOLD_MS <= change.at_ms <= 70_000 + SMOOTHING_WINDOW_MS \
        + RECOVER_HOLD_MS
    assert "< 0.60" in change.reason


def test_recovery_goes_one_step_at_a_time() -> None:
    shedder = LoadShedder()
    _feed(shedder, 0, 12_000, 0.99)
    assert shedder.state.step == 3

    steps_seen: list[tuple[int, int]] = []
    for t in range(12_000, 60_000, 500):
        for change in shedder.update(t, 0.1):
            steps_seen.append((t, change.step))

    assert [step for _, step in steps_seen] == [2, 2, 1, 0]  # step 3 -> 2 lifts AI and the cap
    times = sorted({t for t, _ in steps_seen})
    assert all(b - a >= RECOVER_HOLD_MS for a, b in zip(times, times[1:], strict=False))
    assert shedder.state.expensive_ai_allowed and shedder.state.visuals_allowed


def test_noisy_load_around_a_threshold_does_not_flap() -> None:
    rng = random.Random(7)
    shedder = LoadShedder()
    changes: list[Change] = []
    for t in range(0, 300_000, 500):
        changes += shedder.update(t, 0.74 + rng.uniform(-0.08, 0.08))

    # It enters step 1 once and, the load never falling below 0.6, stays there.
    assert len(changes) == 1
    assert shedder.state.step == 1


def test_alternating_samples_are_averaged_not_acted_on() -> None:
    shedder = LoadShedder()
    changes: list[Change] = []
    for i, t in enumerate(range(0, 60_000, 500)):
        changes += shedder.update(t, 0.95 if i % 2 else 0.3)

    assert changes == []
    assert shedder.state.sustained_load == pytest.approx(0.625, abs=0.02)


def test_wrong_number_of_step_levels_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs 4 rungs"):
        LoadShedder(step_max_levels=(HIGH, MEDIUM))
