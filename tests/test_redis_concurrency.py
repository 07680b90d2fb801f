"""Two server processes sharing one Redis: no lost update, one gap-free sequence."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from rtc_server.base.protocol import Event
from rtc_server.state.redis_bus import RedisBus
from rtc_server.state.redis_store import RedisStore
from rtc_server.state.store import SessionRecord
from tests.support.redis_util import redis_client

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2


async def run_workers(mode: str, url: str, prefix: str, session: str, count: int) -> None:
    """Start WORKERS processes, release them together, and wait for all to succeed."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.redis_worker",
            mode,
            url,
            prefix,
            session,
            str(worker),
            str(count),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for worker in range(WORKERS)
    ]
    try:
        async with asyncio.timeout(30):
            for proc in procs:
                assert proc.stdout is not None
                line = await proc.stdout.readline()
                if line != b"ready\n":
                    _, err = await proc.communicate()
                    pytest.fail(f"worker did not start: {line!r}\n{err.decode()}")
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            results = [await proc.communicate() for proc in procs]
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0 and out == b"done\n", err.decode()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_concurrent_context_updates_lose_nothing(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = redis_client(url)
    store = RedisStore(client, key_prefix=prefix)
    try:
        await store.create(SessionRecord(id="s1", teacher_id="teacher"))
        await run_workers("context", url, prefix, "s1", 200)
        record = await store.get("s1")
    finally:
        await client.aclose()
    assert record is not None
    context = record.ai_context
    expected = {f"w{w}-{i}": i for w in range(WORKERS) for i in range(200)}
    assert {k: v for k, v in context.items() if k != "last_writer"} == expected
    assert context["last_writer"] in range(WORKERS)


async def test_concurrent_publishers_give_one_gap_free_sequence(
    redis_prefix: tuple[str, str],
) -> None:
    url, prefix = redis_prefix
    client = redis_client(url)
    bus = RedisBus(client, key_prefix=prefix)
    await bus.start()
    got: list[Event] = []
    try:
        await bus.subscribe("s1", got.append)
        await run_workers("publish", url, prefix, "s1", 300)
        async with asyncio.timeout(10):
            while len(got) < 600:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        backlog = await bus.read_after("s1", 0, 1000)
    finally:
        await bus.close()
        await client.aclose()

    assert [e.seq for e in got] == list(range(1, 601))
    wires = [json.loads(e.wire) for e in got]
    assert [w["seq"] for w in wires] == list(range(1, 601))
    # Each worker's own events keep its order, and the two really were interleaved.
    for worker in range(WORKERS):
        mine = [w["payload"]["i"] for w in wires if w["payload"]["worker"] == worker]
        assert mine == list(range(300))
    order = [w["payload"]["worker"] for w in wires]
    switches = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert switches >= 2, "the workers did not publish concurrently"
    # What the subscriber saw is exactly what was logged.
    assert backlog.complete and backlog.last_seq == 600
    assert [e.wire for e in backlog.events] == [e.wire for e in got]
