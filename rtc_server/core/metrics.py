"""Prometheus metrics, read from live server state when scraped.

prometheus_client gives the exposition format and a registry per app (no
module-level metrics), so several servers can live in one test process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .classroom import Classroom
    from .dispatcher import Dispatcher
    from .feature import Features
    from .load_monitor import LoadMonitor


class ClassroomCollector(Collector):
    def __init__(self, classroom: Classroom, dispatcher: Dispatcher,
                 features: Features, load: LoadMonitor) -> None:
        self._classroom = classroom
        self._dispatcher = dispatcher
        self._features = features
        self._load = load

    def collect(self) -> Iterator[Metric]:
        rooms = self._classroom.rooms
        conns = [c for r in rooms.values() for c in r.connections.values()]
        yield GaugeMetricFamily("classroom_sessions_local", "Sessions with connections here",
                                value=len(rooms))
        by_transport = GaugeMetricFamily("classroom_connections", "Open connections",
                                         labels=["transport"])
        for name in ("websocket", "datachannel"):
            by_transport.add_metric([name], sum(1 for c in conns if c.transport == name))
        yield by_transport
        yield CounterMetricFamily("classroom_events_delivered", "Events handed to connections",
                                  value=sum(r.delivered for r in rooms.values()))
        received = CounterMetricFamily("classroom_client_messages", "Client messages by type",
                                       labels=["type"])
        for mtype, count in sorted(self._dispatcher.counts.items()):
            received.add_metric([mtype], count)
        yield received
        errors = CounterMetricFamily("classroom_error_replies", "Error replies sent, by code",
                                     labels=["code"])
        for code, count in sorted(self._dispatcher.errors.items()):
            errors.add_metric([code], count)
        yield errors
        yield CounterMetricFamily("classroom_joins", "Connections that joined",
                                  value=self._classroom.joins)
        yield CounterMetricFamily("classroom_resumes", "Joins that resumed after a drop",
                                  value=self._classroom.resumes)
        latency = self._classroom.latency.percentiles()
        if latency is not None:
            for name, value in zip(("p50", "p99", "max"), latency, strict=True):
                yield GaugeMetricFamily(f"classroom_delivery_latency_ms_{name}",
                                        f"Publish to transport, recent sends ({name})",
                                        value=round(value, 3))
        status = self._load.status()
        for name in ("step", "load", "cpu_fraction", "loop_lag_ms"):
            yield GaugeMetricFamily(f"classroom_load_{name}", f"Load shedding: {name}",
                                    value=float(status[name]))
        for name in ("visuals_allowed", "expensive_ai_allowed"):
            yield GaugeMetricFamily(f"classroom_load_{name}", f"Load shedding: {name} (0/1)",
                                    value=float(status[name]))
        yield from self._features.collect()


def make_registry(classroom: Classroom, dispatcher: Dispatcher,
                  features: Features, load: LoadMonitor) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(ClassroomCollector(classroom, dispatcher, features, load))
    # process_cpu_seconds_total, process_resident_memory_bytes, ... of this process.
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
