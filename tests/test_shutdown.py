"""SIGTERM: every client hears 1001 "reconnect", the process exits 0 within the timeout, and
clients that follow the protocol come back to the restarted server with nothing lost."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import SECRET, ServerProcess


async def _students(url: str, n: int, **kwargs) -> list[ClassroomClient]:
    clients = []
    for i in range(n):
        token = mint_token(SECRET, session_id="s1", user_id=f"u{i}", name=f"U{i}",
                           role="student", ttl_s=600)[0]
        client = ClassroomClient(url, token, ice_host_addresses=["127.0.0.1"],
                                 webrtc=i % 2 == 0, **kwargs)
        await client.connect()
        if i % 2 == 0:
            await client.wait_datachannel()
        clients.append(client)
    return clients


async def _create(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/api/sessions", json={"session_id": "s1", "teacher_id": "t"},
            headers={"Authorization": f"Bearer {SECRET}"}) as resp:
        assert resp.status in (201, 422)


async def test_sigterm_tells_everyone_1001_and_exits_0_in_time() -> None:
    server = await ServerProcess("--shutdown-timeout", "5").start()
    await _create(server.url)
    clients = await _students(server.url, 20, auto_reconnect=False)
    try:
        started = time.monotonic()
        status = await server.stop()
        took = time.monotonic() - started
        async with asyncio.timeout(5):
            while any(c.close_code is None for c in clients):
                await asyncio.sleep(0.05)
        assert status == 0
        assert took < 12, took  # its deadline (5 s for peers, twice that in all), not a hang
        assert {c.close_code for c in clients} == {1001}  # WebSocket and data-channel ones
        log = server.log()
        assert "Task was destroyed" not in log and "Traceback" not in log
    finally:
        for client in clients:
            await client.close()


async def test_clients_come_back_after_a_restart_with_nothing_lost() -> None:
    url, prefix = require_redis(), unique_prefix()
    args = ("--redis-url", url, "--redis-key-prefix", prefix)
    first = await ServerProcess(*args).start()
    port = first.port
    await _create(first.url)
    clients = await _students(first.url, 4)
    try:
        async with aiohttp.ClientSession() as http:
            async def say(base: str, text: str) -> None:
                async with http.post(f"{base}/api/sessions/s1/events", json={"text": text},
                                     headers={"Authorization": f"Bearer {SECRET}"}) as resp:
                    assert resp.status == 202

            await say(first.url, "before")
            assert await first.stop() == 0
            second = ServerProcess(*args)
            second.port, second.url = port, first.url
            second.args[second.args.index("--port") + 1] = str(port)
            await second.start()
            try:
                await say(second.url, "after")
                for client in clients:
                    texts = []
                    while len(texts) < 2:
                        event = await client.next_event("message", timeout=20)
                        texts.append(event["payload"]["text"])
                    assert texts == ["before", "after"]
                    assert client.reconnects >= 1
            finally:
                await second.stop()
    finally:
        for client in clients:
            await client.close()
        await delete_prefix(url, prefix)
