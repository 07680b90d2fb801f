"""``GET /api/admin/overview``: what the admin page shows (API secret, or an admin token).

One process's view: its live sessions (with the students connected here), its
load, its metrics now, and those of the last minutes (``MetricsHistory``, one
sample every 5 s: counters and gauges as ``/metrics`` has them; the page
derives rates). With several
worker processes, each answers for itself (``worker`` says which).
"""

from __future__ import annotations

import os
import time

from aiohttp import web

from rtc_server.base.access import require_admin
from rtc_server.core.metrics_history import flatten

from .auth import principal
from .http_errors import json_response
from .keys import SERVICES

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/api/admin/overview")
async def overview(request: web.Request) -> web.Response:
    caller = principal(request)
    if caller.identity is not None:  # else the API secret
        require_admin(caller.identity, "open the admin page")
    services = request.app[SERVICES]
    sessions = []
    for session_id, room in sorted(services.classroom.rooms.items()):
        record = await services.classroom.store.get(session_id, history=False)
        users = {c.user_id: c.role for c in room.connections.values()}
        sessions.append({
            "id": session_id,
            "subject": record.subject if record else "",
            "topic": record.current_topic if record else "",
            "status": record.status if record else "unknown",
            "connections": len(room.connections),
            "students": sum(1 for role in users.values() if role == "student"),
            "teachers": sum(1 for role in users.values() if role in ("teacher", "admin")),
        })
    history = services.history
    return json_response({
        "now": {"ts_ms": int(time.time() * 1000), "values": flatten(services.registry)},
        "worker": services.config.worker_id or str(os.getpid()),
        "sessions": sessions,
        "load": services.load.status(),
        "interval_s": history.interval_s,
        "history": list(history.samples),
    })
