"""Figures the bot processes send to the load test and the load test adds up.

Latencies travel as sparse histograms (whole milliseconds -> count), so a process with
hundreds of students sends a few hundred numbers, not every sample, and percentiles of
the whole run come from the merged histogram exactly (to the millisecond).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rtc_server.media.encoding import VIDEO_RUNGS

__all__ = ["Histogram", "percentile", "rung_name"]


class Histogram:
    """Counts of whole-millisecond values (negative clock skew is clamped to 0)."""

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    def add(self, value_ms: float) -> None:
        self.counts[max(0, int(value_ms))] += 1

    def merge(self, other: Histogram) -> None:
        self.counts.update(other.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, p: float) -> int | None:
        """The smallest value with at least ``p`` percent of the samples at or below it."""
        total = self.total
        if not total:
            return None
        wanted = max(1, -(-total * p // 100))  # ceil
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= wanted:
                return value
        return max(self.counts)

    def max(self) -> int | None:
        return max(self.counts) if self.counts else None

    def summary(self) -> dict[str, Any]:
        return {"samples": self.total, "p50_ms": self.percentile(50),
                "p99_ms": self.percentile(99), "max_ms": self.max()}

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in self.counts.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        return cls({int(k): int(v) for k, v in data.items()})


def percentile(values: Iterable[float], p: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    k = min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))
    return ordered[int(k)]


_RUNG_BY_HEIGHT = {spec.height_px: spec.name for spec in VIDEO_RUNGS}


def rung_name(frame_size: tuple[int, int] | list[int] | None) -> str:
    """The rung of a delivered frame size: "720p medium" (just "360p" off the ladder)."""
    if not frame_size:
        return "none"
    height = int(frame_size[1])
    name = _RUNG_BY_HEIGHT.get(height)
    return f"{height}p {name}" if name else f"{height}p"
