"""A room: who in this process gets which event, and group membership in stream order."""

from __future__ import annotations

import asyncio

from rtc_server.base.protocol import Audience
from tests.support.server import TICK, Harness


async def test_each_audience_reaches_exactly_its_connections(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada", webrtc=False)
    ada_phone = await server.client("ada", webrtc=False)
    bob = await server.client("bob", webrtc=False)
    observer = await server.client("olga", "observer", webrtc=False)
    room = server.classroom.rooms["s1"]
    assert len(room.connections) == 5

    cases = [
        (Audience.session(), {teacher, ada, ada_phone, bob, observer}),
        (Audience.teachers(), {teacher}),
        (Audience.group("students"), {ada, ada_phone, bob}),
        (Audience.group("observers"), {observer}),
        (Audience.user("ada"), {ada, ada_phone}),
    ]
    everyone = [teacher, ada, ada_phone, bob, observer]
    for i, (audience, _) in enumerate(cases):
        await server.classroom.publish("s1", audience, TICK, {"i": i})
    await server.classroom.publish("s1", Audience.session(), TICK, {"i": "end"})
    for client in everyone:
        got = []
        while (event := await client.next_event("tick", timeout=5))["payload"]["i"] != "end":
            got.append(event["payload"]["i"])
        assert got == [i for i, (_, expected) in enumerate(cases) if client in expected]


async def _next_tick(client, seq: int) -> int:
    while True:
        event = await client.next_event("tick", timeout=5)
        if event["seq"] == seq:
            return event["payload"]["i"]
        assert event["seq"] < seq, "an event not addressed to this client arrived"


async def test_named_group_follows_group_updated_in_stream_order(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada", webrtc=False)
    bob = await server.client("bob", webrtc=False)
    await teacher.request({"type": "group.set", "group": "table1", "add": ["ada"]})
    inside = await server.classroom.publish("s1", Audience.group("table1"), TICK, {"i": 1})
    await teacher.request({"type": "group.set", "group": "table1", "add": ["bob"],
                           "remove": ["ada"]})
    moved = await server.classroom.publish("s1", Audience.group("table1"), TICK, {"i": 2})
    assert await _next_tick(ada, inside.seq) == 1
    assert await _next_tick(bob, moved.seq) == 2  # bob never got event 1
    room = server.classroom.rooms["s1"]
    assert room.group_members("table1") == {"bob"}
    assert room.groups_of("bob", "student") == ["students", "table1"]
    assert room.groups_of("ada", "student") == ["students"]


async def test_the_room_closes_when_its_last_connection_leaves(server: Harness) -> None:
    ada = await server.client("ada", webrtc=False)
    assert "s1" in server.classroom.rooms
    await ada.close()
    for _ in range(100):
        if "s1" not in server.classroom.rooms:
            break
        await asyncio.sleep(0.02)
    assert "s1" not in server.classroom.rooms
