"""What every feature is built from, and the one start-up and shutdown routine.

:meth:`Services.open` builds the core in a fixed order — storage (memory or
Redis, :class:`~rtc_server.state.Storage`), the installed-feature list, the
classroom, the dispatcher, the model (an OpenAI-compatible endpoint when one is
configured, else None: each feature then uses its embedded fallback) and the
endpoint's embeddings ranker for material (when an embeddings model is
configured, else None: BM25) — then
builds each feature from the factories it is given, installs its messages and
starts it. :meth:`Services.close` tears down in the reverse order: load
monitoring, liveness (withdrawing this process's status from the admin pages of
the others, :meth:`Services.worker_status`), features (newest first),
connections, storage.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from rtc_server.ai import ImageProvider, TextProvider, make_model, make_retriever
from rtc_server.base.background import BackgroundTasks
from rtc_server.config import Config
from rtc_server.material.grounding import Retriever
from rtc_server.state import Storage

from .classroom import Classroom
from .dispatcher import Dispatcher
from .feature import Feature, Features
from .liveness import LivenessMonitor
from .load_monitor import LoadMonitor
from .metrics import make_registry
from .metrics_history import MetricsHistory, flatten

__all__ = ["FeatureFactory", "Services"]

logger = logging.getLogger(__name__)


@dataclass(eq=False, kw_only=True)
class Services:
    """The core a feature is built from (``build(services) -> Feature``)."""

    config: Config
    storage: Storage
    classroom: Classroom
    dispatcher: Dispatcher
    features: Features
    load: LoadMonitor
    registry: CollectorRegistry
    history: MetricsHistory
    liveness: LivenessMonitor
    #: The configured model, or None (features fall back to their embedded versions).
    text_model: TextProvider | None = None
    image_model: ImageProvider | None = None
    #: Ranks a class's material by embeddings, or None (features rank it by BM25).
    retriever: Retriever | None = None
    tasks: BackgroundTasks = field(default_factory=lambda: BackgroundTasks("Services"))

    @classmethod
    async def open(cls, config: Config, factories: Sequence[FeatureFactory]) -> Services:
        storage = Storage(config)
        await storage.start()
        features = Features()
        classroom = Classroom(config, storage.bus, storage.store, features)
        dispatcher = Dispatcher(classroom)
        load = LoadMonitor(classroom, features)
        classroom.load_status = load.status
        text_model, image_model = make_model(config)
        retriever = make_retriever(config)
        registry = make_registry(classroom, dispatcher, features, load)
        services = cls(config=config, storage=storage, classroom=classroom,
                       dispatcher=dispatcher, features=features, load=load,
                       registry=registry, history=MetricsHistory(registry),
                       liveness=LivenessMonitor(classroom,
                                                status_ttl_s=config.worker_status_ttl_s),
                       text_model=text_model, image_model=image_model, retriever=retriever)
        try:
            for build in factories:
                feature = build(services)
                features.add(feature)
                dispatcher.install(feature)
            for feature in features:
                await feature.start()
        except BaseException:
            await services.close()
            raise
        if config.load_shedding:
            load.start()
        services.liveness.status = services.worker_status
        storage.on_reset(classroom.handle_reset)
        storage.on_health(services._health_changed)
        services.history.start()
        services.liveness.start()
        logger.info("features: %s", ", ".join(f.name for f in features))
        return services

    def worker_status(self, values: Mapping[str, float] | None = None) -> dict[str, Any]:
        """This process on the admin page: the classes it serves, its connections, its load
        and the AI tokens it used. ``values``: the metrics now (default: the last sample
        of the history, taken every 5 s, so that a renewal collects nothing)."""
        if values is None:
            values = (self.history.samples[-1]["values"] if self.history.samples
                      else flatten(self.registry))
        sessions = []
        for session_id, room in sorted(self.classroom.rooms.items()):
            roles = {c.user_id: c.role for c in room.connections.values()}
            sessions.append({
                "id": session_id, "connections": len(room.connections),
                "students": sum(1 for role in roles.values() if role == "student"),
                "teachers": sum(1 for role in roles.values() if role in ("teacher", "admin"))})
        pid = os.getpid()
        return {
            "id": self.classroom.store.process_id or f"{socket.gethostname()}-{pid}",
            "worker": self.config.worker_id or str(pid),
            "host": socket.gethostname(), "pid": pid, "ts_ms": int(time.time() * 1000),
            "sessions": sessions,
            "connections": sum(s["connections"] for s in sessions),
            "load": self.load.status(),
            "ai_tokens": {
                "prompt": int(values.get("classroom_content_prompt_tokens", 0)),
                "completion": int(values.get("classroom_content_completion_tokens", 0))},
        }

    async def _health_changed(self, healthy: bool) -> None:
        await self.classroom.tell_staff("server.status", {
            "shared_state": "ok" if healthy else "unreachable",
            "message": "shared state is back" if healthy else
            "shared state (Redis) is unreachable: new events cannot be sent; retrying"})

    async def close(self) -> None:
        """Shut down in a fixed order; every step runs even if an earlier one failed."""
        await self.load.stop()
        await self.history.stop()
        await self.liveness.stop()
        await self.liveness.withdraw()
        # Features first: generations publish content.stopped while the class can hear it.
        await self.features.close()
        await self.tasks.close()
        try:
            await self.classroom.close()
        finally:
            for model in (self.text_model, self.image_model, self.retriever):
                aclose = getattr(model, "aclose", None)
                if aclose is not None:
                    await aclose()
            await self.storage.close()


#: What the composition root lists: builds one feature from the core's services.
FeatureFactory = Callable[[Services], Feature]
