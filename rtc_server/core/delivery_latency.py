"""How long events take from publish to the transport, sampled on the send path.

Every ``SAMPLE_EVERY``-th send records ``now - event.ts`` (the event's publish
time, in ms), so the hot path pays one counter increment per send. The last
``KEEP`` samples give the p50/p99 that ``/metrics`` and the admin page show.
With several processes the publish time comes from another process's clock:
the figure then includes their clock offset (NTP keeps it to a few ms).
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["DeliveryLatency"]

SAMPLE_EVERY = 16
KEEP = 2048


class DeliveryLatency:
    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=KEEP)
        self._count = 0
        self.sends = 0

    def sent(self, published_ms: int) -> None:
        """An event published at ``published_ms`` (wall clock) went to a transport."""
        self.sends += 1
        self._count += 1
        if self._count >= SAMPLE_EVERY:
            self._count = 0
            self._samples.append(time.time() * 1000 - published_ms)

    def percentiles(self) -> tuple[float, float, float] | None:
        """(p50, p99, max) of the recent samples in ms, or None before any."""
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        last = len(ordered) - 1
        return (ordered[last // 2], ordered[min(last, round(last * 0.99))], ordered[-1])
