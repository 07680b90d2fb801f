"""Per-generation metrics and service-wide counters.

The server core exports :class:`ContentStats` to Prometheus; the content
package itself does not depend on a metrics library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rtc_server.ai.provider import Usage

__all__ = ["ContentStats", "GenerationResult", "percentile"]

Outcome = Literal["done", "stopped", "failed"]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class GenerationResult:
    """What one generation produced and how fast.

    ``ttft_ms`` runs from the provider call to its first text delta.
    ``overhead_ms`` holds, for each token, the time from its arrival from the
    provider to the return of the publish call that delivered it (includes
    coalescing delay).  Rates are over the streaming time after the first token.
    """

    generation_id: str
    session_id: str
    kind: str
    provider: str
    model: str | None
    outcome: Outcome
    text: str
    cached: bool = False
    usage: Usage | None = None
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    chunks: int = 0
    tokens: int = 0
    overhead_ms: list[float] = field(default_factory=list)
    error: str | None = None
    sections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chunks_per_s(self) -> float:
        streaming_s = (self.duration_ms - (self.ttft_ms or 0.0)) / 1000
        return self.chunks / streaming_s if streaming_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        streaming_s = (self.duration_ms - (self.ttft_ms or 0.0)) / 1000
        return self.tokens / streaming_s if streaming_s > 0 else 0.0

    def overhead_percentile_ms(self, q: float) -> float:
        return percentile(self.overhead_ms, q)

    def summary(self) -> dict[str, Any]:
        return {
            "generation_id": self.generation_id,
            "outcome": self.outcome,
            "provider": self.provider,
            "cached": self.cached,
            "ttft_ms": self.ttft_ms,
            "duration_ms": round(self.duration_ms, 3),
            "chunks": self.chunks,
            "tokens": self.tokens,
            "chunks_per_s": round(self.chunks_per_s, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "overhead_p50_ms": round(self.overhead_percentile_ms(50), 3),
            "overhead_p99_ms": round(self.overhead_percentile_ms(99), 3),
            "usage": self.usage.as_dict() if self.usage is not None else None,
        }


@dataclass(slots=True)
class ContentStats:
    """Monotonic counters (and sums for averages) since the service started."""

    generations_started: int = 0
    generations_done: int = 0
    generations_stopped: int = 0
    generations_failed: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    chunks_published: int = 0
    tokens_received: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms_sum: float = 0.0
    ttft_count: int = 0
    overhead_ms_sum: float = 0.0
    overhead_count: int = 0
    overhead_ms_max: float = 0.0
    visuals_done: int = 0
    visuals_failed: int = 0
    visual_cache_hits: int = 0
    active: int = 0
    queued: int = 0

    def record(self, result: GenerationResult) -> None:
        if result.outcome == "done":
            self.generations_done += 1
        elif result.outcome == "stopped":
            self.generations_stopped += 1
        else:
            self.generations_failed += 1
        self.chunks_published += result.chunks
        self.tokens_received += result.tokens
        if result.usage is not None and not result.cached:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
        if result.ttft_ms is not None and not result.cached:
            self.ttft_ms_sum += result.ttft_ms
            self.ttft_count += 1
        if result.overhead_ms:
            self.overhead_ms_sum += sum(result.overhead_ms)
            self.overhead_count += len(result.overhead_ms)
            self.overhead_ms_max = max(self.overhead_ms_max, max(result.overhead_ms))

    def snapshot(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}
