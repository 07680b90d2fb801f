"""Limits that keep one client from hurting the class: the ephemeral channel carries pings
only, a user has one message budget whatever the transport, a student cannot flush the
others' replay window, and a flood is closed even when it trickles through."""

from __future__ import annotations

import asyncio
import json

import pytest

from signaling.client import ClassroomClient, ClientError
from tests.support.server import Harness


async def _replies(client: ClassroomClient, ids: set[str], timeout: float = 10.0) -> dict:
    got: dict[str, dict] = {}
    async with asyncio.timeout(timeout):
        while set(got) != ids:
            for reply in list(client.replies):
                if reply.get("re") in ids:
                    got[reply["re"]] = reply
            await asyncio.sleep(0.02)
    return got


async def test_only_pings_go_over_the_ephemeral_channel(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada")
    ids = {f"e{i}" for i in range(30)}
    for mid in sorted(ids):
        await ada.send_raw(json.dumps({"type": "message", "id": mid, "text": "x",
                                       "to": {"group": "teacher"}}), via="ephemeral")
    replies = await _replies(ada, ids)
    assert {r["payload"]["code"] for r in replies.values()} == {"invalid_request"}
    assert "only ping" in replies["e1"]["payload"]["message"]
    await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "real"})
    assert (await teacher.next_event("message"))["payload"]["text"] == "real"


async def test_one_budget_for_all_of_a_users_connections(make_server) -> None:
    server = await make_server(rate_messages_per_s=1, rate_burst=10,
                               rate_violations_before_close=1000)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    laptop = await server.client("ada", webrtc=False)
    phone = await server.client("ada", webrtc=False)
    ids = {f"p{i}" for i in range(16)}
    for i, mid in enumerate(sorted(ids)):
        client = laptop if i % 2 else phone
        await client.send_raw(json.dumps({"type": "ping", "id": mid}), via="websocket")
    replies = await _replies(laptop, {m for i, m in enumerate(sorted(ids)) if i % 2})
    replies |= await _replies(phone, {m for i, m in enumerate(sorted(ids)) if not i % 2})
    refused = [r for r in replies.values() if r["type"] == "error"]
    assert len(refused) == 6  # 16 sent, a burst of 10 between the two connections
    assert all(r["payload"]["code"] == "rate_limited" for r in refused)
    assert all(r["payload"]["retry_after_ms"] > 0 for r in refused)


async def test_a_student_cannot_flush_the_replay_window(make_server) -> None:
    server = await make_server(student_log_per_s=1, student_log_burst=20, rate_burst=500,
                               rate_messages_per_s=500, rate_violations_before_close=1000)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada", webrtc=False)
    before = await server.classroom.bus.last_seq("s1")
    outcomes = []
    for i in range(100):
        try:
            await ada.request({"type": "message", "to": {"group": "teacher"}, "text": str(i)})
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.code)
    assert outcomes.count("ok") <= 22 and outcomes[-1] == "rate_limited"
    logged = await server.classroom.bus.last_seq("s1") - before
    assert logged <= 22, "the log took in only the student's quota"
    with pytest.raises(ClientError) as refused:
        await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "more"})
    assert "wait" in refused.value.message


async def test_a_trickling_flood_over_the_data_channel_is_closed(make_server) -> None:
    server = await make_server(rate_messages_per_s=20, rate_burst=40,
                               rate_violations_before_close=200)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    flooder = await server.client("ada", auto_reconnect=False)
    bystander = await server.client("bob", webrtc=False)
    for i in range(1500):
        if flooder.close_code is not None:
            break
        try:
            await flooder.send_raw(json.dumps({"type": "ping", "id": f"f{i}"}),
                                   via="datachannel")
        except (ConnectionError, RuntimeError):
            break  # closed under our feet: what the test waits for
        if i % 50 == 0:
            await asyncio.sleep(0.01)  # tokens refill now and then: some get through
    async with asyncio.timeout(10):
        while flooder.close_code is None:
            await asyncio.sleep(0.05)
    assert flooder.close_code == 4029
    assert await bystander.ping() > 0
