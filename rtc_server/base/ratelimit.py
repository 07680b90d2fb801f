"""A token bucket, pure: the caller passes the time."""

from __future__ import annotations


class TokenBucket:
    """Allows ``rate_per_s`` on average with bursts up to ``burst``."""

    __slots__ = ("_last_s", "_tokens", "burst", "rate_per_s")

    def __init__(self, *, rate_per_s: float, burst: int, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last_s = now_s

    def take(self, now_s: float, cost: float = 1.0) -> bool:
        elapsed = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def retry_after_s(self, cost: float = 1.0) -> float:
        missing = max(0.0, cost - self._tokens)
        return missing / self.rate_per_s if self.rate_per_s > 0 else float("inf")
