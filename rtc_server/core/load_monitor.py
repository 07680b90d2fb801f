"""Graceful degradation: measure this process's load and apply the shedding steps.

A thin shell around :class:`adaptive.load.LoadShedder` (the pure policy). Every
``interval_s`` it reads the process CPU share (psutil) and the event loop's
lag (how late a timer fires), combines them, and hands each new state to the
installed features (:meth:`~.feature.Feature.degrade`): media caps the rungs it
offers, content pauses visuals and the expensive AI features. Each change is
sent to the teacher group of every session with connections here (event
``server.load``) and is visible in the metrics; staff get the current status in
their welcome (``server_load``), so that their page shows it before any change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

import psutil

from adaptive.levels import QualityLevel
from adaptive.load import Change, LoadShedder, combine_load
from rtc_server.base.protocol import SERVER_LOAD, Audience

from .feature import Features

if TYPE_CHECKING:
    from .classroom import Classroom

logger = logging.getLogger(__name__)


class LoadMonitor:
    def __init__(self, classroom: Classroom, features: Features, *,
                 interval_s: float = 0.5) -> None:
        self._classroom = classroom
        self._features = features
        self.interval_s = interval_s
        self.shedder = LoadShedder()
        self.changes: list[Change] = []
        self.cpu_fraction = 0.0
        self.loop_lag_ms = 0.0
        self._process = psutil.Process(os.getpid())
        self._task: asyncio.Task[None] | None = None
        #: Whether this process measures its load at all (off with --no-load-shedding).
        self.monitoring = False

    @property
    def max_level(self) -> QualityLevel:
        return self.shedder.state.max_level

    def start(self) -> None:
        self.monitoring = True
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        logger.debug("LoadMonitor started")
        loop = asyncio.get_running_loop()
        self._process.cpu_percent(None)  # the first reading is meaningless
        try:
            while True:
                due = loop.time() + self.interval_s
                await asyncio.sleep(self.interval_s)
                self.loop_lag_ms = max(0.0, (loop.time() - due) * 1000)
                # cpu_percent is per core; one process can use one core at most.
                self.cpu_fraction = min(1.0, self._process.cpu_percent(None) / 100)
                await self.feed(time.monotonic() * 1000,
                                combine_load(self.cpu_fraction, self.loop_lag_ms))
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("LoadMonitor failed")
        finally:
            logger.debug("LoadMonitor exited")

    async def feed(self, now_ms: float, load: float) -> list[Change]:
        """Take one load figure (measured, or synthetic in tests) and apply what changes."""
        changes = self.shedder.update(now_ms, load)
        if not changes:
            return changes
        self._features.degrade(self.shedder.state)
        for change in changes:
            logger.warning("load shedding: %s", change.reason)
        self.changes.extend(changes)
        del self.changes[:-100]
        payload = self.status() | {"changes": [
            {"feature": c.feature, "restricted": c.restricted, "reason": c.reason}
            for c in changes]}
        for session_id in list(self._classroom.rooms):
            await self._classroom.publish(session_id, Audience.teachers(), SERVER_LOAD, payload)
        return changes

    def status(self) -> dict[str, Any]:
        state = self.shedder.state
        return {"monitoring": self.monitoring, "step": state.step, "load": round(state.load, 3),
                "max_level": state.max_level.name, "visuals_allowed": state.visuals_allowed,
                "expensive_ai_allowed": state.expensive_ai_allowed,
                "cpu_fraction": round(self.cpu_fraction, 3),
                "loop_lag_ms": round(self.loop_lag_ms, 1)}
