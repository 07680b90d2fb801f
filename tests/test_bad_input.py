"""Bad input gets a clear error naming the problem; everyone else keeps receiving."""

from __future__ import annotations

import asyncio
import json

import pytest

from rtc_server.base.protocol import Audience
from signaling.client import ClientError
from tests.support.server import TICK, Harness


def _errors(client) -> list[dict]:
    return [r["payload"] | {"re": r.get("re")} for r in client.replies if r["type"] == "error"]


async def _wait_error(client, code: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            for err in _errors(client):
                if err["code"] == code:
                    return err
            await asyncio.sleep(0.01)


@pytest.fixture
async def bystander(server: Harness):
    """A student whose stream must be untouched by someone else's bad input."""
    return await server.client("bystander")


async def _bystander_still_receives(server: Harness, bystander) -> None:
    event = await server.classroom.publish("s1", Audience.session(), TICK, {"ok": 1})
    async with asyncio.timeout(5):
        while True:
            got = await bystander.next_event("tick")
            if got["seq"] == event.seq:
                return


@pytest.mark.parametrize("via", ["websocket", "datachannel"])
async def test_malformed_json_gets_error_and_connection_stays(server, bystander, via):
    bad = await server.client("bad")
    await bad.send_raw('{"type": "message", "to": ', via=via)
    err = await _wait_error(bad, "malformed_message")
    assert "not valid JSON" in err["message"]
    assert (await bad.ping()) > 0  # still connected and served
    await _bystander_still_receives(server, bystander)


@pytest.mark.parametrize("via", ["websocket", "datachannel"])
async def test_unknown_type_is_named_in_the_error(server, bystander, via):
    bad = await server.client("bad")
    with pytest.raises(ClientError) as info:
        await bad.request({"type": "teleport", "where": "moon"}, via=via)
    assert info.value.code == "unknown_type"
    assert "'teleport'" in info.value.message
    await _bystander_still_receives(server, bystander)


async def test_wrong_fields_name_the_field(server, bystander):
    bad = await server.client("bad")
    with pytest.raises(ClientError) as info:
        await bad.request({"type": "replay", "after_seq": "yesterday"})
    assert info.value.code == "malformed_message"
    assert "after_seq" in info.value.message


@pytest.mark.parametrize("via", ["websocket", "datachannel"])
async def test_oversized_message_is_refused_with_the_limit(server, bystander, via):
    bad = await server.client("bad")
    limit = server.classroom.config.max_message_bytes
    huge = json.dumps(
        {"id": "big-1", "type": "message", "to": {"group": "teacher"}, "text": "x" * (limit + 10)}
    )
    await bad.send_raw(huge, via=via)
    err = await _wait_error(bad, "message_too_large")
    assert str(limit) in err["message"]
    assert err["re"] == "big-1"
    assert (await bad.ping()) > 0
    await _bystander_still_receives(server, bystander)


async def test_invalid_sdp_offer_gets_error_and_a_later_good_offer_works(server, bystander):
    client = await server.client("sdp", webrtc=False)
    with pytest.raises(ClientError) as info:
        await client.request({"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"})
    assert info.value.code == "invalid_request"
    assert "SDP" in info.value.message
    # The connection is still usable: negotiate properly now.
    await client._negotiate()
    await client.wait_datachannel()
    await _bystander_still_receives(server, bystander)


async def test_candidate_before_offer_is_refused(server):
    client = await server.client("early", webrtc=False)
    with pytest.raises(ClientError) as info:
        await client.request(
            {"type": "candidate", "candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"}
        )
    assert "offer first" in info.value.message


async def test_flood_is_rate_limited_then_closed_and_others_unaffected(make_server):
    server = await make_server(
        rate_messages_per_s=50, rate_burst=20, rate_violations_before_close=100
    )
    await server.classroom.create_session(session_id="s1", teacher_id="t")
    bystander = await server.client("bystander")
    teacher = await server.client("teacher", "teacher")
    flooder = await server.client("flood", transport="websocket")
    for i in range(400):
        await flooder.send({"type": "message", "to": {"group": "teacher"}, "text": f"spam {i}"})
    err = await _wait_error(flooder, "rate_limited")
    assert "messages/s" in err["message"] and err["re"] is not None
    async with asyncio.timeout(10):
        while flooder.close_code is None:
            await asyncio.sleep(0.02)
    assert flooder.close_code == 4029
    # Messages accepted before the limit reached the teacher: each has an ack, none vanished.
    acked = {r["re"] for r in flooder.replies if r["type"] == "ack"}
    refused = {r["re"] for r in flooder.replies if r["type"] == "error"}
    assert acked and not (acked & refused)
    await _bystander_still_receives(server, bystander)
    for _ in range(5):
        await teacher.request({"type": "message", "to": {"session": True}, "text": "carry on"})
    got = []
    async with asyncio.timeout(5):
        while len(got) < 5:
            e = await bystander.next_event("message")
            got.append(e["payload"]["text"])
    assert got == ["carry on"] * 5


async def test_ephemeral_channel_carries_pings(server):
    client = await server.client("pinger")
    rtts = [await client.ping() for _ in range(5)]
    assert all(0 < r < 1000 for r in rtts)
    pongs = [r for r in client.replies if r["type"] == "pong"]
    assert len(pongs) == 5
