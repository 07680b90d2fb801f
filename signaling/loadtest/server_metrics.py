"""The server's CPU and memory per worker, read from ``/metrics``.

Every server process exposes its own ``process_cpu_seconds_total`` and
``process_resident_memory_bytes`` and says which worker it is in
``classroom_worker_info{worker, pid}`` (``signaling/process_metrics.py``). With
``--workers`` a scrape through the shared port reaches one worker, chosen by the kernel
per connection; so each scrape uses a new connection, and scraping repeats until every
worker the students reported is seen.
CPU use over the measurement is the difference of two readings of the same process
(a worker restarted in between shows as a new pid, and is left out of the difference).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ProcessReading", "ServerMetrics"]

CPU = "process_cpu_seconds_total"
RSS = "process_resident_memory_bytes"
WORKER = "classroom_worker_info"


@dataclass(frozen=True)
class ProcessReading:
    worker: str
    pid: str
    cpu_s: float
    rss_bytes: float
    at: float  # time.monotonic() of the scrape


class ServerMetrics:
    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/metrics"
        self.available = True  # False when the server exposes no process figures

    async def read(self, workers: Iterable[str], tries: int = 0) -> dict[str, ProcessReading]:
        """One reading per worker (those in ``workers`` and any other that answers)."""
        wanted = set(workers) or {"0"}
        tries = tries or max(8, 8 * len(wanted))
        found: dict[str, ProcessReading] = {}
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(tries):
                try:
                    async with http.get(self.url, timeout=aiohttp.ClientTimeout(total=10)) as r:
                        text = await r.text()
                except (aiohttp.ClientError, TimeoutError):
                    continue
                reading = self._parse(text)
                if reading is None:
                    self.available = False
                    return {}
                found[reading.worker] = reading
                if wanted <= found.keys():
                    break
        return found

    @staticmethod
    def _parse(text: str) -> ProcessReading | None:
        cpu_s: float | None = None
        rss = 0.0
        labels: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == CPU:
                    cpu_s = sample.value
                elif sample.name == RSS:
                    rss = sample.value
                elif sample.name == WORKER:
                    labels = sample.labels
        if cpu_s is None:
            return None
        return ProcessReading(labels.get("worker", "0"), labels.get("pid", "?"), cpu_s, rss,
                              time.monotonic())

    @staticmethod
    def usage(before: dict[str, ProcessReading], after: dict[str, ProcessReading]
              ) -> dict[str, dict[str, float | str | None]]:
        """Per worker: cores used between the readings (same process only), RSS at the end."""
        out: dict[str, dict[str, float | str | None]] = {}
        for worker, end in sorted(after.items()):
            start = before.get(worker)
            cores = None
            if start is not None and start.pid == end.pid and end.at > start.at:
                cores = round((end.cpu_s - start.cpu_s) / (end.at - start.at), 3)
            out[worker] = {"pid": end.pid, "cpu_cores": cores,
                           "rss_mb": round(end.rss_bytes / 1e6, 1)}
        return out
