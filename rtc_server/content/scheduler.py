"""Global concurrency limit with round-robin fairness across sessions.

Waiters queue per session; when a slot frees, the next session in rotation
that is under its own cap gets it.  The per-session cap keeps one session
(for example one whose provider hangs) from holding every slot, so another
session's stream starts at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["FairScheduler"]


class FairScheduler:
    def __init__(self, max_concurrent: int, *, max_per_session: int | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self.max_concurrent = max_concurrent
        self.max_per_session = max(1, max_per_session or max(1, max_concurrent // 2))
        self._active: dict[str, int] = {}
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._rotation: deque[str] = deque()

    @property
    def active(self) -> int:
        return sum(self._active.values())

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def active_for(self, session_id: str) -> int:
        return self._active.get(session_id, 0)

    def _can_run(self, session_id: str) -> bool:
        return (
            self.active < self.max_concurrent
            and self._active.get(session_id, 0) < self.max_per_session
        )

    async def acquire(self, session_id: str) -> None:
        if self._can_run(session_id) and not self._waiting.get(session_id):
            self._active[session_id] = self._active.get(session_id, 0) + 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._waiting.setdefault(session_id, deque())
        if session_id not in self._rotation:
            self._rotation.append(session_id)
        queue.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # Granted just as we were cancelled: hand the slot on.
                self.release(session_id)
            else:
                self._forget(session_id, fut)
            raise

    def release(self, session_id: str) -> None:
        count = self._active.get(session_id, 0)
        if count <= 0:
            raise RuntimeError(f"release for session {session_id!r} without a slot")
        if count == 1:
            del self._active[session_id]
        else:
            self._active[session_id] = count - 1
        self._grant()

    @asynccontextmanager
    async def slot(self, session_id: str) -> AsyncIterator[None]:
        await self.acquire(session_id)
        try:
            yield
        finally:
            self.release(session_id)

    def _forget(self, session_id: str, fut: asyncio.Future[None]) -> None:
        queue = self._waiting.get(session_id)
        if queue is not None and fut in queue:
            queue.remove(fut)
        if queue is not None and not queue:
            del self._waiting[session_id]
            if session_id in self._rotation:
                self._rotation.remove(session_id)

    def _grant(self) -> None:
        idle = 0
        while self._rotation and self.active < self.max_concurrent and idle < len(self._rotation):
            session_id = self._rotation[0]
            self._rotation.rotate(-1)
            if self._active.get(session_id, 0) >= self.max_per_session:
                idle += 1
                continue
            queue = self._waiting[session_id]
            while queue and queue[0].done():
                queue.popleft()  # cancelled while waiting; its task cleans up
            if queue:
                self._active[session_id] = self._active.get(session_id, 0) + 1
                queue.popleft().set_result(None)
                idle = 0
            if not queue:
                del self._waiting[session_id]
                self._rotation.remove(session_id)
