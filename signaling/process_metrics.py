"""Which server process answers ``/metrics``: ``classroom_worker_info{worker, pid}``.

The registry already carries the process's own figures (prometheus_client's
``ProcessCollector``: ``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
see ``rtc_server/core/metrics.py``). With ``--workers`` every worker answers
``/metrics`` for itself (a scrape through the shared port reaches one of them), so this
gauge says which worker it was: a load test or Prometheus can tell the workers apart
and add them up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["WorkerCollector", "register"]


class WorkerCollector(Collector):
    def __init__(self, worker_id: str) -> None:
        self.worker = worker_id or "0"  # "0": a single server process, no supervisor

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("classroom_worker_info",
                                 "This server process: its --workers id and pid (always 1)",
                                 labels=["worker", "pid"])
        info.add_metric([self.worker, str(os.getpid())], 1.0)
        yield info


def register(registry: CollectorRegistry, worker_id: str) -> WorkerCollector:
    collector = WorkerCollector(worker_id)
    registry.register(collector)
    return collector
