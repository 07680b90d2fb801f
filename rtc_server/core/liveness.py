"""Notices data channels whose path died while they still look open.

Once a second it asks every connection of this process to check its data
channel (:meth:`~.connection.Connection.check_datachannel`): a client that pings
on it and went quiet, or SCTP data that keeps being resent, means the path is
gone — the connection falls back to its WebSocket and resends what the client
did not acknowledge, within about three seconds instead of the ~30 s aiortc
needs to notice (ICE consent).
"""

from __future__ import annotations

import asyncio
import logging
import time

from .classroom import Classroom

__all__ = ["LivenessMonitor"]

logger = logging.getLogger(__name__)

INTERVAL_S = 1.0


class LivenessMonitor:
    def __init__(self, classroom: Classroom, *, interval_s: float = INTERVAL_S) -> None:
        self._classroom = classroom
        self.interval_s = interval_s
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

    async def _run(self) -> None:
        self._started.set()
        logger.debug("LivenessMonitor started")
        try:
            while True:
                await asyncio.sleep(self.interval_s)
                self.check()
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("LivenessMonitor failed")
        finally:
            self._exited.set()
            logger.debug("LivenessMonitor exited")
