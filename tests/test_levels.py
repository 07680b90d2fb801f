"""The ladder: protocol rungs keep their meaning; the floor below them is extra steps."""

from __future__ import annotations

import pytest

from adaptive import (
    AUDIO_ONLY,
    HIGH,
    LEVELS,
    LOW,
    LOW_HALF,
    LOW_QUARTER,
    MEDIUM,
    STEPS,
    UnknownLevelError,
    level_above,
    level_below,
    level_by_name,
)
from adaptive.levels import RUNGS


def test_rung_names_keep_their_meaning() -> None:
    assert [level.name for level in LEVELS] == ["low", "medium", "high"]
    for rank, level in enumerate(LEVELS):
        assert level.rank == rank and LEVELS[level.rank] is level
        assert level.is_rung and level.rung == level.name
        assert level.temporal_layers == 3 and not level.audio_only
    assert (LOW.height, LOW.total_kbps) == (480, 964)
    assert (MEDIUM.height, MEDIUM.total_kbps) == (720, 2096)
    assert (HIGH.height, HIGH.total_kbps) == (1080, 4628)


@pytest.mark.parametrize(("step", "layers", "fps", "total_kbps"), [
    (LOW_HALF, 2, 15.0, 604),
    (LOW_QUARTER, 1, 7.5, 424),
    (AUDIO_ONLY, 1, 0.0, 104),
])
def test_floor_steps_forward_the_low_rung_with_fewer_layers(
    step: object, layers: int, fps: float, total_kbps: int
) -> None:
    assert step in STEPS and step not in LEVELS
    assert step.rung == "low" and not step.is_rung  # type: ignore[attr-defined]
    assert step.temporal_layers == layers  # type: ignore[attr-defined]
    assert step.fps(30) == fps  # type: ignore[attr-defined]
    assert step.total_kbps == total_kbps  # type: ignore[attr-defined]
    assert step.rank < LOW.rank  # type: ignore[attr-defined]
    assert level_by_name(step.name) is step  # type: ignore[attr-defined]


def test_the_ladder_is_ordered_and_walkable() -> None:
    assert [s.name for s in STEPS] == [
        "audio_only", "low_quarter", "low_half", "low", "medium", "high"]
    assert [s.total_kbps for s in STEPS] == sorted(s.total_kbps for s in STEPS)
    assert level_below(LOW) is LOW_HALF and level_above(LOW_HALF) is LOW
    assert level_below(LOW, RUNGS) is None and level_above(HIGH) is None


def test_an_unknown_name_says_which_names_exist() -> None:
    with pytest.raises(UnknownLevelError, match="'ultra'.*'audio_only'.*'high'"):
        level_by_name("ultra")
