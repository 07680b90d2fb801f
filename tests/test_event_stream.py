"""The event stream over real aiortc peers on loopback: routing, order, transports."""

from __future__ import annotations

import asyncio

from tests.support.server import TICK, Harness


async def collect(client, n: int, timeout: float = 10.0) -> list[dict]:
    out = []
    async with asyncio.timeout(timeout):
        async for event in client.events():
            out.append(event)
            if len(out) >= n:
                break
    return out


async def drain(client, type_: str, n: int, timeout: float = 10.0) -> list[dict]:
    out = []
    async with asyncio.timeout(timeout):
        async for event in client.events():
            if event["type"] == type_:
                out.append(event)
                if len(out) >= n:
                    break
    return out


async def test_join_over_webrtc_delivers_session_broadcast_on_datachannel(server: Harness):
    teacher = await server.client("teacher", "teacher")
    students = [await server.client(f"st{i}") for i in range(3)]
    for i in range(5):
        await teacher.request({"type": "message", "to": {"session": True}, "text": f"hello {i}"})
    for st in students:
        got = await drain(st, "message", 5)
        assert [e["payload"]["text"] for e in got] == [f"hello {i}" for i in range(5)]
        seqs = [e["seq"] for e in got]
        assert seqs == list(range(seqs[0], seqs[0] + 5)), "session broadcasts are contiguous"
        assert st.events_via == "datachannel"
        assert st.received_via["datachannel"] >= 5


async def test_routing_to_group_and_user_reaches_only_them(server: Harness):
    teacher = await server.client("teacher", "teacher")
    a, b, c = [await server.client(u) for u in ("ann", "bob", "cat")]
    await teacher.request({"type": "group.set", "group": "breakout-1", "add": ["ann", "bob"]})
    await teacher.request({"type": "message", "to": {"group": "breakout-1"}, "text": "group"})
    await teacher.request({"type": "message", "to": {"user": "cat"}, "text": "just cat"})
    await teacher.request({"type": "message", "to": {"session": True}, "text": "all"})
    for client, expected in (
        (a, ["group", "all"]),
        (b, ["group", "all"]),
        (c, ["just cat", "all"]),
    ):
        got = await drain(client, "message", 2)
        assert [e["payload"]["text"] for e in got] == expected
    # every user sees the group change (it is a session event), and only the first message
    # after it differs per recipient
    assert a.last_seq == b.last_seq == c.last_seq


async def test_user_message_reaches_every_connection_of_that_user(server: Harness):
    teacher = await server.client("teacher", "teacher")
    phone = await server.client("dan")
    laptop = await server.client("dan", transport="websocket")
    await teacher.request({"type": "message", "to": {"user": "dan"}, "text": "both"})
    for client in (phone, laptop):
        (event,) = await drain(client, "message", 1)
        assert event["payload"]["text"] == "both"
        assert event["to"] == {"user": "dan"}


async def test_websocket_transport_carries_same_stream(server: Harness):
    teacher = await server.client("teacher", "teacher")
    ws_only = await server.client("wes", transport="websocket")
    dc = await server.client("dee")
    for i in range(20):
        await teacher.send({"type": "message", "to": {"session": True}, "text": str(i)})
    ws_events = await drain(ws_only, "message", 20)
    dc_events = await drain(dc, "message", 20)
    assert [e["seq"] for e in ws_events] == [e["seq"] for e in dc_events]
    assert ws_only.received_via["datachannel"] == 0
    assert ws_only.events_via == "websocket"


async def test_switching_transport_mid_stream_misses_nothing(server: Harness):
    teacher = await server.client("teacher", "teacher")
    student = await server.client("sam")
    total = 300

    async def blast() -> None:
        for i in range(total):
            await server.classroom.publish("s1", _session(), TICK, {"i": i})
            if i % 10 == 0:
                await asyncio.sleep(0.002)

    sender = asyncio.ensure_future(blast())
    seen: list[int] = []
    switches = 0
    async with asyncio.timeout(20):
        async for event in student.events():
            if event["type"] != "tick":
                continue
            seen.append(event["payload"]["i"])
            if len(seen) in (50, 120, 200):
                switches += 1
                await (student.use_websocket() if switches % 2 else student.use_datachannel())
            if len(seen) == total:
                break
    await sender
    assert seen == list(range(total))
    assert student.received_via["websocket"] > 0 and student.received_via["datachannel"] > 0
    assert teacher.duplicates == 0


async def test_datachannel_loss_falls_back_to_websocket_without_gaps(server: Harness):
    await server.client("teacher", "teacher")
    student = await server.client("sue")
    for i in range(10):
        await server.classroom.publish("s1", _session(), TICK, {"i": i})
    first = await drain(student, "tick", 10)
    # Kill the peer connection under the client: the server must notice and resend.
    await student.pc.close()
    for i in range(10, 30):
        await server.classroom.publish("s1", _session(), TICK, {"i": i})
    rest = await drain(student, "tick", 20, timeout=15)
    assert [e["payload"]["i"] for e in first + rest] == list(range(30))
    assert student.events_via == "websocket"


def _session():
    from rtc_server.base.protocol import Audience

    return Audience.session()
