"""The aiohttp application: the composition root.

It chooses what runs — the installed features, in :data:`FEATURES` — and wires
the edge (HTTP API, WebSocket, WHIP, static pages) to the core. Adding a feature
is writing its folder and adding its ``build`` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from rtc_server import chat, content, interactions, media, patches
from rtc_server.config import Config
from rtc_server.content import ContentFeature
from rtc_server.core.feature import Feature
from rtc_server.core.services import FeatureFactory, Services
from rtc_server.interactions import InteractionsFeature
from rtc_server.media import MediaFeature

from . import admin_api, http_api, http_errors, materials_api, media_api, process_metrics, websocket
from .classes_api import setup_classes
from .keys import CLASSROOM, CONFIG, CONTENT, INTERACTIONS, MEDIA, SERVICES
from .whep_api import setup_whep
from .whip_api import setup_whip

logger = logging.getLogger(__name__)

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

#: The features this server runs, in installation order (later ones close first).
FEATURES: tuple[FeatureFactory, ...] = (
    chat.build,
    interactions.build,
    content.build,
    media.build,
)


def create_app(config: Config, *, features: Sequence[FeatureFactory] = FEATURES
               ) -> web.Application:
    config = config.with_secret()
    patches.apply(config)
    app = web.Application(middlewares=[http_errors.errors_middleware],
                          client_max_size=http_api.MAX_BODY_BYTES)
    http_errors.setup(app)
    app[CONFIG] = config

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        services = await Services.open(config, features)
        app[SERVICES] = services
        app[CLASSROOM] = services.classroom
        process_metrics.register(services.registry, config.worker_id)
        # The edge's endpoints reach the features they serve by type (a feature left out
        # of the list leaves its key unset, and its endpoints answer 404/500 plainly).
        _expose(app, services, CONTENT, ContentFeature)
        _expose(app, services, INTERACTIONS, InteractionsFeature)
        _expose(app, services, MEDIA, MediaFeature)
        yield
        await services.close()

    async def tell_clients(app: web.Application) -> None:
        # on_shutdown runs after the listening sockets closed and before aiohttp waits for
        # (then cancels) the handlers: every client hears 1001 "reconnect" from us first.
        if SERVICES in app:
            await app[SERVICES].classroom.close(config.shutdown_clients_s)

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(tell_clients)
    app.add_routes(http_api.routes)
    app.add_routes(websocket.routes)
    app.add_routes(media_api.routes)
    app.add_routes(materials_api.routes)
    app.add_routes(admin_api.routes)
    setup_classes(app)
    setup_whip(app)
    setup_whep(app)
    web_root = Path(config.web_root) if config.web_root else WEB_ROOT

    root = web_root.resolve()

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(root / "index.html")

    async def static(request: web.Request) -> web.StreamResponse:
        # Not add_static: its FileResponse answers a missing file with an empty 404 decided
        # after every middleware ran; raising here gives the JSON error (http_errors).
        path = (root / request.match_info["path"]).resolve()
        exists = await asyncio.get_running_loop().run_in_executor(None, path.is_file)
        if not exists or not path.is_relative_to(root):
            raise web.HTTPNotFound(text=f"no such page or endpoint: {request.path}")
        return web.FileResponse(path)

    async def admin(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(root / "admin.html")

    app.router.add_get("/", index)
    app.router.add_get("/admin", admin)
    app.router.add_get("/{path:.+}", static)
    return app


F = TypeVar("F", bound=Feature)


def _expose(app: web.Application, services: Services, key: web.AppKey[F], kind: type[F]
            ) -> None:
    for feature in services.features:
        if isinstance(feature, kind):
            app[key] = feature
