"""Notices data channels whose path died while they still look open, and dead processes.

Once a second it asks every connection of this process to check its data
channel (:meth:`~.connection.Connection.check_datachannel`): a client that pings
on it and went quiet, or SCTP data that keeps being resent, means the path is
gone — the connection falls back to its WebSocket and resends what the client
did not acknowledge, within about three seconds (six without pings) instead of the ~30 s aiortc
needs to notice (ICE consent).

Every :data:`LEASE_EVERY` rounds it also renews this process's lease in the shared
store and takes the connections of processes whose lease ran out (a worker killed
with its students) out of the presence counts, telling the teachers ("dropped").
With the lease it publishes this process's status (:attr:`LivenessMonitor.status`:
classes, connections, load, AI tokens) for the admin page of every process; the
status expires ``status_ttl_s`` after its last renewal, so a process that stopped
renewing drops out of the admin page then (one that stops cleanly withdraws it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from rtc_server.base.exceptions import ClassroomError
from rtc_server.base.protocol import PRESENCE, Audience, now_ms

from .classroom import Classroom

__all__ = ["LivenessMonitor"]

logger = logging.getLogger(__name__)

INTERVAL_S = 1.0
LEASE_EVERY = 5


class LivenessMonitor:
    def __init__(self, classroom: Classroom, *, interval_s: float = INTERVAL_S,
                 status_ttl_s: float = 15.0) -> None:
        self._classroom = classroom
        self.interval_s = interval_s
        #: What this process publishes with its lease (set by the Services), or None.
        self.status: Callable[[], dict[str, Any]] | None = None
        self.status_ttl_s = status_ttl_s
        self.lost = 0
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._exited = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is None:
            return
        await self._started.wait()
        self._task.cancel()
        await self._exited.wait()
        self._task = None

    def check(self) -> int:
        """One round over every connection; returns how many channels were declared dead."""
        now = time.monotonic()
        found = 0
        for room in list(self._classroom.rooms.values()):
            for conn in list(room.connections.values()):
                found += conn.check_datachannel(now)
        self.lost += found
        return found

    async def renew_lease(self) -> int:
        """Renew this process's lease; reap dead processes' connections. Returns how many
        participants changed. Failures (Redis away) are logged and retried next time."""
        classroom = self._classroom
        now = now_ms()
        try:
            await classroom.store.heartbeat(now)
            if self.status is not None:
                await classroom.store.publish_worker(
                    self.status(), now_ms=now, ttl_ms=int(self.status_ttl_s * 1000))
            reaped = await classroom.store.reap_dead(now)
        except ClassroomError as exc:
            logger.info("lease not renewed: %s", exc.message)
            return 0
        for session_id, part in reaped:
            logger.info("Session(%s) %s lost connections of a dead process (%d left)",
                        session_id, part.user_id, part.connections)
            with contextlib.suppress(ClassroomError):
                await classroom.publish(session_id, Audience.teachers(), PRESENCE, {
                    "user": part.user_id, "name": part.name, "role": part.role,
                    "state": "dropped", "connections": part.connections,
                    "device": part.device})
        return len(reaped)

    async def withdraw(self) -> None:
        """Take this process's status off the admin pages (it is stopping)."""
        try:
            await self._classroom.store.withdraw_worker()
        except ClassroomError as exc:
            logger.info("status not withdrawn: %s", exc.message)

    async def _run(self) -> None:
        self._started.set()
        logger.debug("LivenessMonitor started")
        rounds = 0
        try:
            while True:
                if rounds % LEASE_EVERY == 0:
                    await self.renew_lease()
                rounds += 1
                await asyncio.sleep(self.interval_s)
                self.check()
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("LivenessMonitor failed")
        finally:
            self._exited.set()
            logger.debug("LivenessMonitor exited")
