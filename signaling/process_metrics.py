"""This process's CPU and memory on ``/metrics``, labelled with its worker id.

With ``--workers`` every worker answers ``/metrics`` for itself (a scrape through the
shared port reaches one of them), so each series carries ``worker`` and ``pid``: a
load test or Prometheus can tell the workers apart and add them up. psutil reads the
figures (the same numbers ``ps`` shows: user + system CPU seconds, resident memory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["ProcessCollector", "register"]


class ProcessCollector(Collector):
    def __init__(self, worker_id: str) -> None:
        self.worker = worker_id or "0"  # "0": a single server process, no supervisor
        self._process = psutil.Process()
        self._labels = [self.worker, str(os.getpid())]

    def collect(self) -> Iterator[Metric]:
        with self._process.oneshot():
            cpu = self._process.cpu_times()
            rss = self._process.memory_info().rss
        cpu_s = CounterMetricFamily("classroom_process_cpu_seconds",
                                    "CPU time of this server process (user + system)",
                                    labels=["worker", "pid"])
        cpu_s.add_metric(self._labels, cpu.user + cpu.system)
        yield cpu_s
        memory = GaugeMetricFamily("classroom_process_resident_memory_bytes",
                                   "Resident memory of this server process",
                                   labels=["worker", "pid"])
        memory.add_metric(self._labels, float(rss))
        yield memory


def register(registry: CollectorRegistry, worker_id: str) -> ProcessCollector:
    collector = ProcessCollector(worker_id)
    registry.register(collector)
    return collector
