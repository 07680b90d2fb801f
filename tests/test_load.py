"""LoadShedder: stepwise degradation with hysteresis."""

from __future__ import annotations

import random

import pytest

from adaptive import HIGH, LOW, MEDIUM, Change, LoadShedder, combine_load
from adaptive.load import ENTER_HOLD_MS, RECOVER_HOLD_MS


def _feed(shedder: LoadShedder, start_ms: int, end_ms: int, load: float) -> list[Change]:
    """Samples every 500 ms in [start_ms, end_ms)."""
    changes: list[Change] = []
    for t in range(start_ms, end_ms, 500):
        changes += shedder.update(t, load)
    return changes


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
        0,
        HIGH,
        True,
        True,
    )


def test_load_above_0_7_caps_streaming_after_the_hold() -> None:
    shedder = LoadShedder()

    assert shedder.update(0, 0.75) == []
    assert shedder.update(ENTER_HOLD_MS - 1, 0.75) == []
    changes = shedder.update(ENTER_HOLD_MS, 0.75)

    assert [(c.feature, c.restricted, c.max_level) for c in changes] == [
        ("streaming_quality", True, MEDIUM)
    ]
    assert "load 0.75 > 0.70" in changes[0].reason
    assert shedder.state.step == 1
    assert shedder.state.visuals_allowed and shedder.state.expensive_ai_allowed


def test_single_spike_is_ignored() -> None:
    shedder = LoadShedder()

    changes = shedder.update(0, 0.97) + _feed(shedder, 500, 20_000, 0.4)

    assert changes == []
    assert shedder.state.step == 0


def test_overload_enters_every_step_at_once() -> None:
    shedder = LoadShedder()

    changes = _feed(shedder, 0, 2000, 0.95)

    assert {c.feature for c in changes} == {"streaming_quality", "visuals", "expensive_ai"}
    assert all(c.restricted and c.step == 3 and c.previous_step == 0 for c in changes)
    state = shedder.state
    assert (state.step, state.max_level, state.visuals_allowed, state.expensive_ai_allowed) == (
        3,
        LOW,
        False,
        False,
    )


def test_load_between_0_8_and_0_9_limits_visuals_but_keeps_ai() -> None:
    shedder = LoadShedder()

    _feed(shedder, 0, 5000, 0.85)

    assert shedder.state.step == 2
    assert not shedder.state.visuals_allowed
    assert shedder.state.expensive_ai_allowed
    assert shedder.state.max_level is MEDIUM


def test_recovery_needs_margin_and_time() -> None:
    shedder = LoadShedder()
    _feed(shedder, 0, 5000, 0.75)
    assert shedder.state.step == 1

    # Below 0.7 but not below 0.6: stay degraded however long it lasts.
    assert _feed(shedder, 5000, 65_000, 0.65) == []
    assert shedder.state.step == 1

    changes = _feed(shedder, 65_000, 65_000 + RECOVER_HOLD_MS, 0.5)
    assert changes == []
    changes = shedder.update(65_000 + RECOVER_HOLD_MS, 0.5)
    assert [(c.feature, c.restricted, c.max_level) for c in changes] == [
        ("streaming_quality", False, HIGH)
    ]
    assert "load 0.50 < 0.60" in changes[0].reason


def test_recovery_goes_one_step_at_a_time() -> None:
    shedder = LoadShedder()
    _feed(shedder, 0, 2000, 0.99)
    assert shedder.state.step == 3

    steps_seen: list[tuple[int, int]] = []
    for t in range(2000, 40_000, 500):
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
        changes += shedder.update(t, 0.72 + rng.uniform(-0.06, 0.06))

    # It enters step 1 once and, the load never falling below 0.6, stays there.
    assert len(changes) == 1
    assert shedder.state.step == 1


def test_alternating_samples_never_sustain_a_step() -> None:
    shedder = LoadShedder()
    changes: list[Change] = []
    for i, t in enumerate(range(0, 60_000, 500)):
        changes += shedder.update(t, 0.95 if i % 2 else 0.3)

    assert changes == []


def test_wrong_number_of_step_levels_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs 4 rungs"):
        LoadShedder(step_max_levels=(HIGH, MEDIUM))
