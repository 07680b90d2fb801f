"""Admits joins (and peer-connection setups) at the rate this process can take them.

A burst of joins — a class of 1,000 arriving at once, or all of them reconnecting
after a restart — must not turn into failures. :class:`Admission` lets at most
``concurrent`` of them run at a time and queues up to ``queue_max`` more (they
simply wait their turn); beyond that it refuses at once with
:class:`~rtc_server.base.exceptions.ServiceUnavailable` carrying
``retry_after_ms``, estimated from how fast admissions have been finishing, which
clients honour (docs/protocol.md, "Reconnecting"). Nothing is lost: a refused join
had not started.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rtc_server.base.exceptions import ServiceUnavailable

__all__ = ["Admission"]

#: Finish times kept to estimate the admission rate.
RATE_WINDOW = 64


class Admission:
    def __init__(self, what: str, *, concurrent: int, queue_max: int) -> None:
        self.what = what
        self.concurrent = concurrent
        self.queue_max = queue_max
        self._slots = asyncio.Semaphore(concurrent)
        self.waiting = 0
        self.running = 0
        self.admitted = 0
        self.refused = 0
        self._finished: deque[float] = deque(maxlen=RATE_WINDOW)

    def retry_after_ms(self) -> int:
        """When a refused caller should try again: the queue's drain time (at least 1 s)."""
        finished = self._finished
        rate = (len(finished) - 1) / (finished[-1] - finished[0]) if (
            len(finished) > 1 and finished[-1] > finished[0]) else 10.0
        return max(1000, math.ceil((self.waiting + self.running) / rate * 1000))

    def check(self) -> None:
        """Refuse now (before any work, e.g. before a WebSocket upgrade) if the queue is full."""
        if self.waiting >= self.queue_max:
            self.refused += 1
            raise ServiceUnavailable(
                f"too many {self.what} at once; try again shortly",
                retry_after_ms=self.retry_after_ms())

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Wait for a turn (queued, bounded); run; free the turn."""
        self.check()
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self.admitted += 1
            self._finished.append(time.monotonic())
            self._slots.release()
