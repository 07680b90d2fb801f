"""SIGTERM: every client hears 1001 "reconnect", the process exits 0 within the timeout, and
clients that follow the protocol come back to the restarted server with nothing lost."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

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


#: What the process may take beyond its --shutdown-timeout-s: the interpreter's own exit
#: (and the test's polling) on a busy machine. The shutdown itself is bounded by the timeout.
EXIT_MARGIN_S = 2.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_tells_everyone_1001_and_exits_0_within_the_timeout(sig) -> None:
    timeout_s = 5.0
    server = await ServerProcess("--shutdown-timeout-s", str(timeout_s)).start()
    await _create(server.url)
    clients = await _students(server.url, 20, auto_reconnect=False)
    try:
        started = time.monotonic()
        status = await server.stop(sig)
        took = time.monotonic() - started
        async with asyncio.timeout(5):
            while any(c.close_code is None for c in clients):
                await asyncio.sleep(0.05)
        assert status == 0, server.log()[-2000:]
        # The deadline is the configured timeout in all (not twice it, not a hang).
        assert took < timeout_s + EXIT_MARGIN_S, (took, server.log()[-2000:])
        assert {c.close_code for c in clients} == {1001}  # WebSocket and data-channel ones
        log = server.log()
        assert "Task was destroyed" not in log and "Traceback" not in log
        assert f"shutting down (within {timeout_s:.1f} s)" in log and "stopped" in log
    finally:
        for client in clients:
            await client.close()


def test_shutdown_is_bounded_by_its_timeout_when_the_cleanup_hangs() -> None:
    """A cleanup step that never returns (a feature waiting on a stuck upstream) is cut at
    the deadline: the whole shutdown takes its timeout, not twice it plus the step's wait.
    Run in an event loop of its own, as in the server: shutdown() cancels every task."""
    from aiohttp import web

    from rtc_server.__main__ import shutdown

    timeout_s = 1.5

    async def scenario() -> float:
        app = web.Application()
        never = asyncio.Event()

        async def stuck(app: web.Application) -> None:
            await never.wait()

        app.on_cleanup.append(stuck)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.2)
        await runner.setup()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await shutdown(runner, timeout_s)
        return loop.time() - started

    took = asyncio.run(scenario())
    # Most of the timeout went to the cleanup; the deadline cut it (the old bound: 5 s).
    assert timeout_s * 0.7 <= took < timeout_s + 1.0, took


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
