"""The Python client: its bounded event queue, and a refused join's ``retry_after``."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from rtc_server.base.protocol import Audience
from signaling.client import ClassroomClient, ConnectRefused
from tests.support.server import TICK, Harness


async def _ticks(server: Harness, client: ClassroomClient, n: int) -> list[int]:
    """Publish ``n`` ticks; return the ``i`` of each as the client's callback saw them."""
    seen: list[int] = []
    done = asyncio.Event()

    def on_tick(event: dict) -> None:
        seen.append(event["payload"]["i"])
        if len(seen) == n:
            done.set()

    client.on("tick", on_tick)
    for i in range(n):
        await server.classroom.publish("s1", Audience.session(), TICK, {"i": i})
    await asyncio.wait_for(done.wait(), 10)
    return seen


async def test_unread_queue_keeps_the_newest_and_counts_what_it_dropped(server: Harness):
    client = await server.client("st1", webrtc=False, max_queued=3)
    assert await _ticks(server, client, 5) == [0, 1, 2, 3, 4]  # callbacks see every event
    assert client.unread_dropped == 2
    assert [(await client.next_event("tick"))["payload"]["i"] for _ in range(3)] == [2, 3, 4]


async def test_callback_only_client_keeps_no_queue(server: Harness):
    client = await server.client("st1", webrtc=False, max_queued=0)
    assert await _ticks(server, client, 50) == list(range(50))
    assert client._queue.qsize() == 0 and client.unread_dropped == 0
    with pytest.raises(RuntimeError, match="max_queued=0"):
        await client.next_event()
    with pytest.raises(RuntimeError, match="use on"):
        async for _ in client.events():
            pass


async def test_a_refused_join_carries_the_servers_retry_after(aiohttp_client):
    async def busy(request: web.Request) -> web.Response:
        if request.query.get("token") == "header-only":
            return web.json_response({"error": {"code": "busy", "message": "later"}},
                                     status=503, headers={"Retry-After": "2"})
        return web.json_response(
            {"error": {"code": "join_queue_full", "message": "too many joins",
                       "retry_after_ms": 750}}, status=503)

    app = web.Application()
    app.router.add_get("/ws", busy)
    http = await aiohttp_client(app)
    url = str(http.make_url("")).rstrip("/")
    with pytest.raises(ConnectRefused) as refused:
        await ClassroomClient(url, "tok", webrtc=False).connect()
    assert (refused.value.status, refused.value.code) == (503, "join_queue_full")
    assert refused.value.retry_after_ms == 750
    with pytest.raises(ConnectRefused) as refused:
        await ClassroomClient(url, "header-only", webrtc=False).connect()
    assert refused.value.retry_after_ms == 2000


async def test_the_same_client_joins_after_a_refused_attempt(aiohttp_server):
    from signaling.app import create_app
    from signaling.keys import CLASSROOM
    from tests.support.server import SECRET, server_config

    refusing = True

    @web.middleware
    async def admission(request: web.Request, handler):
        if request.path == "/ws" and refusing:
            return web.json_response({"error": {"code": "busy", "message": "later",
                                                "retry_after_ms": 10}}, status=503)
        return await handler(request)

    app = create_app(server_config())
    app.middlewares.append(admission)
    server = await aiohttp_server(app)
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="t")
    from signaling.tokens import mint_token

    token = mint_token(SECRET, session_id="s1", user_id="u1", name="U", role="student",
                       ttl_s=60)[0]
    client = ClassroomClient(str(server.make_url("")).rstrip("/"), token, webrtc=False)
    try:
        with pytest.raises(ConnectRefused):
            await client.connect()
        refusing = False
        welcome = await client.connect()  # its HTTP session was closed by the refusal
        assert welcome["user"]["id"] == "u1"
    finally:
        await client.close()
