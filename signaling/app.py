"""The aiohttp application: routes, static client, and the objects it owns."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from rtc_server import sctp_tuning
from rtc_server.bus import EventBus
from rtc_server.classroom import Classroom
from rtc_server.config import Config
from rtc_server.content import LOCAL_PROVIDER_NAME
from rtc_server.content.classroom_content import ClassroomContent
from rtc_server.content.classroom_content import install as install_content
from rtc_server.dispatcher import Dispatcher
from rtc_server.ice import restrict_host_addresses
from rtc_server.interactions import install as install_interactions
from rtc_server.interactions.evaluator import TextProviderEvaluator
from rtc_server.interactions.hints import TextProviderHintProvider
from rtc_server.load_monitor import LoadMonitor
from rtc_server.media.handlers import install as install_media
from rtc_server.media.hub import MediaHub
from rtc_server.media.quality_control import QualityController
from rtc_server.memory_bus import InProcessBus
from rtc_server.memory_store import MemoryStore
from rtc_server.metrics import make_registry
from rtc_server.store import SessionStore

from . import http_api, media_api, websocket
from .keys import (
    CLASSROOM,
    CONFIG,
    CONTENT,
    DISPATCHER,
    INTERACTIONS,
    LOAD,
    MEDIA,
    QUALITY,
    REGISTRY,
)
from .whip import setup_whip

logger = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


async def make_state(config: Config) -> tuple[EventBus, SessionStore]:
    """The storage and bus for ``config``: Redis when a URL is given, else in memory."""
    if config.redis_url:
        from rtc_server.redis_bus import RedisBus
        from rtc_server.redis_store import RedisStore

        prefix = config.redis_key_prefix
        bus: EventBus = RedisBus(config.redis_url, max_events=config.event_log_max,
                                 key_prefix=prefix)
        store: SessionStore = RedisStore(config.redis_url, key_prefix=prefix)
    else:
        bus, store = InProcessBus(max_events=config.event_log_max), MemoryStore()
    await bus.start()
    return bus, store


def ai_helpers(content: ClassroomContent) -> dict[str, Any]:
    """Model-backed evaluator and hints when a model is configured; local ones otherwise."""
    provider = content.service.text_provider
    if provider.name == LOCAL_PROVIDER_NAME:
        return {}
    return {"evaluator": TextProviderEvaluator(provider),
            "hint_provider": TextProviderHintProvider(provider)}


def create_app(config: Config) -> web.Application:
    config = config.with_secret()
    restrict_host_addresses(config.ice_host_addresses)
    if config.sctp_tuning:
        sctp_tuning.apply()
    app = web.Application(middlewares=[http_api.errors_middleware],
                          client_max_size=http_api.MAX_BODY_BYTES)
    app[CONFIG] = config

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        bus, store = await make_state(config)
        classroom = Classroom(config, bus, store)
        dispatcher = Dispatcher(classroom)
        content = ClassroomContent(classroom, config)
        install_content(dispatcher, content)
        interactions = install_interactions(
            dispatcher, classroom, redis_url=config.redis_url,
            key_prefix=config.redis_key_prefix,
            # "AI when available": a configured model evaluates free text and writes hints.
            **ai_helpers(content),
        )
        interactions.on_evaluated.append(content.answer_evaluated)
        media = MediaHub(classroom, initial_rung=config.media_initial_rung)
        dispatcher.peer_listeners.append(media)
        classroom.on_leave.append(media.connection_left)
        install_media(dispatcher, media)
        quality = QualityController(media)
        dispatcher.on_ping_rtt.append(lambda conn, rtt: quality.on_ping_rtt(conn.id, rtt))
        if config.adaptive_quality:
            quality.start()
        app[MEDIA] = media
        app[QUALITY] = quality
        classroom.snapshot_providers["interactions"] = interactions.snapshot
        app[INTERACTIONS] = interactions
        app[CLASSROOM] = classroom
        app[DISPATCHER] = dispatcher
        app[CONTENT] = content
        load = LoadMonitor(classroom, content)
        load.on_max_level.append(media.apply_server_cap)
        app[LOAD] = load
        app[REGISTRY] = make_registry(classroom, dispatcher, content, load)
        if config.load_shedding:
            load.start()
        yield
        await load.stop()
        await quality.stop()
        await interactions.close()
        # Shutdown order: stop accepting (aiohttp did), stop generations (the class gets
        # content.stopped), close each peer, then storage.
        await content.close()
        await classroom.close()
        await media.close()
        await bus.close()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    app.add_routes(http_api.routes)
    app.add_routes(websocket.routes)
    app.add_routes(media_api.routes)
    setup_whip(app)
    web_root = Path(config.web_root) if config.web_root else WEB_ROOT

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(web_root / "index.html")

    app.router.add_get("/", index)
    app.router.add_static("/", web_root, show_index=False)
    return app
