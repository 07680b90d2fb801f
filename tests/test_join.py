"""Where a viewer starts: declared or last-known capacity, capped at what it asked for."""

from __future__ import annotations

from adaptive import AUDIO_ONLY, HIGH, LOW, LOW_QUARTER, MEDIUM, RUNGS, LinkMemory, start_level
from adaptive.join import LINK_MEMORY_TTL_MS


def test_a_declared_capacity_picks_the_highest_step_that_fits() -> None:
    assert start_level(capacity_bps=2.5e6) is MEDIUM
    assert start_level(capacity_bps=10e6) is HIGH
    assert start_level(capacity_bps=500e3) is LOW_QUARTER
    assert start_level(capacity_bps=50e3) is AUDIO_ONLY
    assert start_level(capacity_bps=500e3, ladder=RUNGS) is LOW


def test_the_asked_rung_caps_the_start_and_stands_in_for_an_unknown_capacity() -> None:
    assert start_level(asked=MEDIUM, capacity_bps=10e6) is MEDIUM
    assert start_level(asked=HIGH, capacity_bps=2.5e6) is MEDIUM
    assert start_level(asked=HIGH) is HIGH
    assert start_level() is LOW


def test_link_memory_expires() -> None:
    memory = LinkMemory(at_ms=1000, capacity_bps=3e6, ceiling_bps=5.8e6, probe_failures=2,
                        probe_backoff_ms=10_000, next_probe_ms=11_000)

    assert memory.fresh(1000 + LINK_MEMORY_TTL_MS)
    assert not memory.fresh(1001 + LINK_MEMORY_TTL_MS)
