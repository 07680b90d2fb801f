"""Join bursts queue instead of failing; past the queue, a 503 says when to come back."""

from __future__ import annotations

import asyncio

import aiohttp

from rtc_server.base.exceptions import ServiceUnavailable
from rtc_server.core.admission import Admission
from signaling.client import ClassroomClient


async def test_admission_queues_then_refuses_with_a_retry_time() -> None:
    gate = Admission("joins", concurrent=2, queue_max=3)
    release = asyncio.Event()
    inside = 0
    most_inside = 0

    async def join() -> str:
        nonlocal inside, most_inside
        try:
            async with gate.admit():
                inside += 1
                most_inside = max(most_inside, inside)
                await release.wait()
                inside -= 1
            return "joined"
        except ServiceUnavailable as exc:
            return f"refused {exc.details['retry_after_ms']}"

    tasks = [asyncio.ensure_future(join()) for _ in range(7)]
    await asyncio.sleep(0.05)
    assert (gate.running, gate.waiting) == (2, 3)
    release.set()
    results = await asyncio.gather(*tasks)
    assert results.count("joined") == 5 and most_inside == 2
    refused = [r for r in results if r.startswith("refused")]
    assert len(refused) == 2 and all(int(r.split()[1]) >= 1000 for r in refused)


async def test_a_burst_of_joins_all_get_in(make_server) -> None:
    server = await make_server(join_concurrency=4, join_queue_max=500)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    clients = [ClassroomClient(server.url, server.token(f"u{i}"), webrtc=False)
               for i in range(120)]
    server.clients.extend(clients)
    welcomes = await asyncio.gather(*(c.connect() for c in clients))
    assert len({w["connection_id"] for w in welcomes}) == 120
    assert server.classroom.joins_admission.admitted >= 120


async def test_a_full_join_queue_answers_503_with_retry_after(make_server) -> None:
    server = await make_server(join_concurrency=1, join_queue_max=0)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    server.classroom.joins_admission.waiting = 1  # as if one join were queued already
    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}/ws?token={server.token('ada')}") as resp:
        body = await resp.json()
        assert resp.status == 503 and body["error"]["code"] == "unavailable"
        assert body["error"]["retry_after_ms"] >= 1000
        assert int(resp.headers["Retry-After"]) >= 1
