"""The last minutes of this process's own metrics, for the admin page's plots.

Every ``interval_s`` the loop reads the Prometheus registry (the same numbers
``/metrics`` shows) into one flat sample, ``{"name{label=value}": number}``,
and keeps the newest ``keep``. Counters stay counters: the page derives rates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry

__all__ = ["MetricsHistory"]

logger = logging.getLogger(__name__)


def flatten(registry: CollectorRegistry) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return values


class MetricsHistory:
    def __init__(self, registry: CollectorRegistry, *, interval_s: float = 5.0,
                 keep: int = 120) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self.samples: deque[dict[str, Any]] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._exited = asyncio.Event()

    def sample(self) -> dict[str, Any]:
        entry = {"ts_ms": int(time.time() * 1000), "values": flatten(self.registry)}
        self.samples.append(entry)
        return entry

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

    async def _run(self) -> None:
        self._started.set()
        logger.debug("MetricsHistory started")
        try:
            while True:
                self.sample()
                await asyncio.sleep(self.interval_s)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("MetricsHistory failed")
        finally:
            self._exited.set()
            logger.debug("MetricsHistory exited")
