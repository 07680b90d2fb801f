"""``GET /api/admin/overview``: what the admin page shows (API secret, or an admin token).

The deployment's live processes (``workers``: this one, fresh, and every other that
published its status to the shared state within its TTL — see
:class:`~rtc_server.core.liveness.LivenessMonitor`), the live classes over all of
them (``sessions``), the AI tokens they used with a cost estimate when prices are
configured (``ai``), and this process's load, metrics now and those of the last
minutes (``MetricsHistory``, one sample every 5 s: counters and gauges as
``/metrics`` has them; the page derives rates). ``worker`` says which process
answered. In memory (one process) the workers are just this one.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from rtc_server.base.access import require_admin
from rtc_server.config import Config
from rtc_server.core.metrics_history import flatten

from .auth import principal
from .http_errors import json_response
from .keys import SERVICES

__all__ = ["ai_usage", "routes"]

routes = web.RouteTableDef()


def ai_usage(workers: list[dict[str, Any]], config: Config) -> dict[str, Any]:
    """Tokens of the live processes (each counts since it started) and, with prices
    configured, what they cost; no prices, no cost (None)."""
    prompt = sum(int(w.get("ai_tokens", {}).get("prompt", 0)) for w in workers)
    completion = sum(int(w.get("ai_tokens", {}).get("completion", 0)) for w in workers)
    prices = config.ai_prices_per_1k
    cost = None
    if prices is not None:
        cost = round(prompt / 1000 * prices[0] + completion / 1000 * prices[1], 6)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cost": cost,
            "currency": config.ai_price_currency if prices is not None else None,
            "price_per_1k_tokens": ({"input": prices[0], "output": prices[1]}
                                    if prices is not None else None)}


@routes.get("/api/admin/overview")
async def overview(request: web.Request) -> web.Response:
    caller = principal(request)
    if caller.identity is not None:  # else the API secret
        require_admin(caller.identity, "open the admin page")
    services = request.app[SERVICES]
    store = services.classroom.store
    now_ms = int(time.time() * 1000)
    values = flatten(services.registry)
    me = services.worker_status(values)
    workers = [me, *sorted(await store.live_workers(now_ms),
                           key=lambda w: (str(w.get("worker")), str(w.get("id"))))]
    totals: dict[str, dict[str, Any]] = {}
    for worker in workers:
        for part in worker.get("sessions", []):
            total = totals.setdefault(part["id"], {
                "connections": 0, "students": 0, "teachers": 0, "workers": []})
            for name in ("connections", "students", "teachers"):
                total[name] += int(part.get(name, 0))
            total["workers"].append(worker.get("worker"))
    sessions = []
    for session_id, total in sorted(totals.items()):
        record = await store.get(session_id, history=False)
        sessions.append({
            "id": session_id,
            "subject": record.subject if record else "",
            "topic": record.current_topic if record else "",
            "status": record.status if record else "unknown",
            **total,
        })
    history = services.history
    return json_response({
        "now": {"ts_ms": now_ms, "values": values},
        "worker": me["worker"],
        "workers": workers,
        "sessions": sessions,
        "ai": ai_usage(workers, services.config),
        "load": services.load.status(),
        "interval_s": history.interval_s,
        "history": list(history.samples),
    })
