"""Reconnect without loss: replay from the log, snapshots, offline delivery, deduplication."""

from __future__ import annotations

import asyncio
import random

import pytest

from rtc_server.base.protocol import Audience
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import TICK, Harness


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def state(request) -> dict:
    """Server options for the in-memory state, or for the whole server on the real Redis."""
    if request.param == "memory":
        yield {}
        return
    url, prefix = require_redis(), unique_prefix()
    yield {"redis_url": url, "redis_key_prefix": prefix}
    await delete_prefix(url, prefix)


@pytest.fixture
async def server(make_server, state) -> Harness:
    harness = await make_server(**state)
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher",
                                           current_topic="Cells")
    return harness


async def publish_ticks(server: Harness, start: int, count: int, audience=None) -> None:
    for i in range(start, start + count):
        await server.classroom.publish("s1", audience or Audience.session(), TICK, {"i": i})


async def ticks(client, n: int, timeout: float = 10.0) -> list[int]:
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            event = await client.next_event("tick", timeout=timeout)
            out.append(event["payload"]["i"])
    return out


@pytest.mark.parametrize("transport", ["auto", "websocket"])
async def test_resume_replays_everything_missed_in_order(server: Harness, transport):
    student = await server.client("ria", transport=transport)
    await publish_ticks(server, 0, 5)
    assert await ticks(student, 5) == list(range(5))
    await student.drop()
    await publish_ticks(server, 5, 50)  # missed while away
    welcome = await student.reconnect()
    assert welcome["resumed"]["replayed"] >= 50
    await publish_ticks(server, 55, 5)
    assert await ticks(student, 55) == list(range(5, 60))
    assert student.duplicates == 0


async def test_gap_older_than_the_log_gets_a_snapshot(make_server, state):
    server = await make_server(event_log_max=10, **state)
    await server.classroom.create_session(session_id="s1", teacher_id="t", current_topic="Cells")
    student = await server.client("old")
    await publish_ticks(server, 0, 2)
    await ticks(student, 2)
    await student.drop()
    await publish_ticks(server, 2, 30)
    welcome = await student.reconnect()
    snap = welcome["snapshot"]
    assert snap["session"]["current_topic"] == "Cells"
    assert snap["at_seq"] == welcome["last_seq"] >= 32
    await publish_ticks(server, 32, 3)
    assert await ticks(student, 3) == [32, 33, 34]


async def test_events_for_an_offline_user_arrive_when_they_return(server: Harness):
    teacher = await server.client("teacher", "teacher")
    student = await server.client("otto")
    await student.close()
    await asyncio.sleep(0.1)
    await teacher.request({"type": "group.set", "group": "g1", "add": ["otto"]})
    await teacher.request({"type": "message", "to": {"user": "otto"}, "text": "hint for you"})
    await teacher.request({"type": "message", "to": {"group": "g1"}, "text": "for your group"})
    await teacher.request({"type": "message", "to": {"session": True}, "text": "class-wide"})
    back = await server.client("otto")  # a fresh page load: new token, no resume
    assert back.welcome["delivered_while_away"] == 2
    got = [(await back.next_event("message"))["payload"]["text"] for _ in range(2)]
    assert got == ["hint for you", "for your group"]


async def test_messages_sent_while_disconnected_are_handled_once(server: Harness):
    teacher = await server.client("teacher", "teacher")
    student = await server.client("max", transport="websocket")
    await student.drop()
    ids = [await student.send({"type": "message", "to": {"group": "teacher"}, "text": f"a{i}"})
           for i in range(3)]
    await student.reconnect()
    # The same messages resent again (a second reconnect before the acks arrived).
    for mid, text in zip(ids, ["a0", "a1", "a2"], strict=True):
        await student.send({"id": mid, "type": "message", "to": {"group": "teacher"}, "text": text})
    seen = []
    async with asyncio.timeout(10):
        while len(seen) < 3:
            event = await teacher.next_event("message")
            seen.append(event["payload"]["id"])
    await asyncio.sleep(0.3)
    extra = [r for r in list(teacher._queue._queue) if r and r["type"] == "message"]
    assert seen == ids and extra == []
    dups = [r for r in student.replies if r["type"] == "ack" and r["payload"].get("duplicate")]
    assert len(dups) == 3


async def test_teacher_sees_dropped_and_back_within_seconds(server: Harness):
    teacher = await server.client("teacher", "teacher")
    student = await server.client("pia")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await student.drop()
    async with asyncio.timeout(8):
        while True:
            event = await teacher.next_event("presence")
            if event["payload"]["user"] == "pia" and event["payload"]["state"] == "dropped":
                break
    assert loop.time() - started < 8
    await student.reconnect()
    async with asyncio.timeout(5):
        while True:
            event = await teacher.next_event("presence")
            if event["payload"]["user"] == "pia" and event["payload"]["state"] == "back":
                break
    assert event["payload"]["connections"] == 1


async def test_random_disconnects_during_a_stream_lose_nothing(server: Harness):
    rng = random.Random(7)
    teacher = await server.client("teacher", "teacher")
    students = [await server.client(f"r{i}", transport=("websocket" if i % 2 else "auto"))
                for i in range(4)]
    total = 400
    received: dict[str, list[int]] = {s.welcome["user"]["id"]: [] for s in students}
    sent_answers: dict[str, list[str]] = {s.welcome["user"]["id"]: [] for s in students}

    async def consume(client) -> None:
        user = client.welcome["user"]["id"]
        while len(received[user]) < total:
            event = await client._queue.get()
            if event is not None and event["type"] == "tick":
                received[user].append(event["payload"]["i"])

    async def disrupt(client) -> None:
        user = client.welcome["user"]["id"]
        for round_ in range(5):
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            await client.drop()
            sent_answers[user].append(await client.send(
                {"type": "message", "to": {"group": "teacher"}, "text": f"{user}-{round_}"}))
            await asyncio.sleep(rng.uniform(0.0, 0.1))
            welcome = await client.reconnect()
            assert "resumed" in welcome, welcome.keys()

    async def produce() -> None:
        for i in range(total):
            await server.classroom.publish("s1", Audience.session(), TICK, {"i": i})
            if i % 5 == 0:
                await asyncio.sleep(0.01)

    consumers = [asyncio.ensure_future(consume(s)) for s in students]
    await asyncio.gather(produce(), *(disrupt(s) for s in students))
    done, pending = await asyncio.wait(consumers, timeout=30)
    for task in pending:
        task.cancel()
    assert not pending, {u: sorted(set(range(total)) - set(got))[:10]
                         for u, got in received.items()}
    for user, got in received.items():
        assert got == list(range(total)), f"{user} got a different stream"
    answers: list[str] = []
    want = sorted(mid for ids in sent_answers.values() for mid in ids)
    async with asyncio.timeout(15):
        while len(answers) < len(want):
            event = await teacher.next_event("message")
            if event["payload"]["from"]["role"] == "student":
                answers.append(event["payload"]["id"])
    assert sorted(answers) == want  # each answer exactly once
