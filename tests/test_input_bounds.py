"""Client input is checked at the boundary (issue 13, items 1, 2, 9 and 15): lone surrogates,
NaN/Infinity, deep nesting, huge numbers, wrong types, too many m-lines or publications —
each gets a documented error naming the field and carrying the message's id, and nobody
else notices. Real server and clients, in memory and on Redis where the store matters."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiortc import RTCPeerConnection

from rtc_server.base.exceptions import InvalidRequest
from rtc_server.base.protocol import Audience
from signaling.client import ClassroomClient, ClientError
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import TICK, Harness

VIAS = ["websocket", "datachannel"]


@pytest.fixture(params=["memory", "redis"])
async def any_server(request, make_server: Callable[..., Awaitable[Harness]]
                     ) -> AsyncIterator[Harness]:
    overrides = {}
    if request.param == "redis":
        overrides = {"redis_url": require_redis(), "redis_key_prefix": unique_prefix()}
    harness = await make_server(**overrides)
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
    yield harness
    await harness.close()
    if overrides:
        await delete_prefix(overrides["redis_url"], overrides["redis_key_prefix"])


def _record(client: ClassroomClient) -> list[dict]:
    """Every stream event ``client`` receives from now on."""
    seen: list[dict] = []
    client.on(None, seen.append)
    return seen


def _errors(client: ClassroomClient) -> list[dict]:
    return [r["payload"] | {"re": r.get("re", "absent")}
            for r in client.replies if r["type"] == "error"]


async def _wait_reply(client: ClassroomClient, pred, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            for reply in client.replies:
                if pred(reply):
                    return reply
            await asyncio.sleep(0.01)


async def _refused(client: ClassroomClient, message: dict, via: str) -> ClientError:
    with pytest.raises(ClientError) as info:
        await client.request(message, via=via)
    return info.value


async def _everyone_still_receives(server: Harness, *clients: ClassroomClient) -> None:
    event = await server.classroom.publish("s1", Audience.session(), TICK, {"after": "bad"})
    for client in clients:
        assert client.close_code is None
        async with asyncio.timeout(5):
            while (await client.next_event("tick"))["seq"] != event.seq:
                pass


# -- 1. lone surrogates ------------------------------------------------------------------------

@pytest.mark.parametrize("via", VIAS)
async def test_lone_surrogate_in_data_is_refused_and_the_teacher_keeps_its_connections(
        server: Harness, via: str) -> None:
    teacher = await server.client("teacher", "teacher")
    teacher_ws = await server.client("teacher", "teacher", webrtc=False)
    student = await server.client("ada")
    seen = _record(teacher)
    err = await _refused(student, {"type": "message", "id": "m1", "to": {"group": "teacher"},
                                   "text": "x", "data": {"v": "\ud800"}}, via)
    assert err.code == "malformed_message"
    assert "'data.v'" in err.message and "surrogate" in err.message
    await _everyone_still_receives(server, teacher, teacher_ws, student)
    assert [e for e in seen if e["type"] == "message"] == []  # nothing was relayed


@pytest.mark.parametrize("via", VIAS)
async def test_lone_surrogate_id_gets_an_error_with_null_re_that_says_why(
        server: Harness, via: str) -> None:
    student = await server.client("ada")
    await student.send_raw('{"type":"message","id":"\\ud800","to":{"group":"teacher"},'
                           '"text":"x"}', via=via)
    reply = await _wait_reply(student, lambda r: r["type"] == "error")
    assert reply["re"] is None
    assert reply["payload"]["code"] == "malformed_message"
    assert "'id'" in reply["payload"]["message"] and "'re' is null" in reply["payload"]["message"]
    assert (await student.ping()) > 0


async def test_lone_surrogate_board_note_is_refused_and_the_board_keeps_working(
        any_server: Harness) -> None:
    teacher = await any_server.client("teacher", "teacher")
    students = [await any_server.client(f"s{i}") for i in range(3)]
    await teacher.request({"type": "board.permit", "students": True})
    err = await _refused(students[0], {"type": "board.op", "op": {
        "kind": "add", "item": {"id": "n1", "x": 10, "y": 10, "text": "\udc00 note"}}},
        "datachannel")
    assert err.code == "malformed_message" and "'op.item.text'" in err.message
    snapshot = await students[1].request({"type": "board.sync"})
    assert snapshot["type"] == "board.snapshot" and snapshot["items"] == []
    await _everyone_still_receives(any_server, teacher, *students)


async def test_an_event_that_cannot_be_encoded_fails_at_publish_without_taking_a_seq(
        any_server: Harness) -> None:
    student = await any_server.client("ada")
    classroom = any_server.classroom
    before = await classroom.bus.last_seq("s1")
    for payload in ({"text": "\ud800"}, {"v": float("nan")}, {"v": float("inf")}):
        with pytest.raises(InvalidRequest):
            await classroom.publish("s1", Audience.session(), TICK, payload)
    assert await classroom.bus.last_seq("s1") == before
    await _everyone_still_receives(any_server, student)


# -- 2. NaN / Infinity ----------------------------------------------------------------------------

@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_numbers_are_refused_naming_the_field(
        server: Harness, via: str, literal: str) -> None:
    teacher = await server.client("teacher", "teacher")
    student = await server.client("ada")
    seen = _record(teacher)
    await student.send_raw('{"type":"message","to":{"group":"teacher"},"text":"x",'
                           f'"data":{{"v":{literal}}},"id":"nan-1"}}', via=via)
    reply = await _wait_reply(student, lambda r: r.get("re") == "nan-1")
    assert reply["type"] == "error" and reply["payload"]["code"] == "malformed_message"
    assert "'data.v'" in reply["payload"]["message"]
    await _everyone_still_receives(server, teacher, student)
    assert not [e for e in seen if e["type"] == "message"]


# -- 9. nesting, numbers, types, m-lines, publications ------------------------------------------

@pytest.mark.parametrize("via", VIAS)
async def test_json_nested_5000_deep_is_refused_with_the_id_wherever_it_is(
        server: Harness, via: str) -> None:
    student = await server.client("ada")
    deep = "[" * 5000 + "]" * 5000
    await student.send_raw(f'{{"type":"message","to":{{"group":"teacher"}},"data":{{"x":{deep}}},'
                           f'"id":"deep-1"}}', via=via)
    reply = await _wait_reply(student, lambda r: r.get("re") == "deep-1")
    assert reply["payload"]["code"] == "malformed_message"
    assert "nested" in reply["payload"]["message"]
    err = await _refused(student, {"type": "message", "to": {"group": "teacher"},
                                   "data": {"x": json.loads("[" * 40 + "]" * 40)}}, via)
    assert err.code == "malformed_message" and "more than 32 levels" in err.message


@pytest.mark.parametrize("via", VIAS)
async def test_board_coordinates_beyond_float_range_are_refused_naming_the_field(
        server: Harness, via: str) -> None:
    teacher = await server.client("teacher", "teacher")
    huge = "1" + "0" * 400  # an integer literal: float() of it overflows
    await teacher.send_raw('{"type":"board.op","id":"b1","op":{"kind":"add","item":'
                           f'{{"id":"n1","x":{huge},"y":1,"text":"t"}}}}}}', via=via)
    reply = await _wait_reply(teacher, lambda r: r.get("re") == "b1")
    assert reply["payload"]["code"] == "malformed_message"
    assert "'op.item.x'" in reply["payload"]["message"]
    assert "internal_error" not in {e["code"] for e in _errors(teacher)}


async def test_replay_after_a_huge_seq_is_refused_on_both_stores(any_server: Harness) -> None:
    student = await any_server.client("ada")
    for after in (10**30, 2**53 + 1):
        err = await _refused(student, {"type": "replay", "after_seq": after}, "websocket")
        assert err.code == "malformed_message" and "after_seq" in err.message
    done = await student.request({"type": "replay", "after_seq": 2**53})
    assert done == done | {"type": "replay", "complete": True}
    await _everyone_still_receives(any_server, student)


async def test_visual_request_with_a_number_as_description_is_refused_before_acceptance(
        server: Harness) -> None:
    teacher = await server.client("teacher", "teacher")
    seen = _record(teacher)
    err = await _refused(teacher, {"type": "content.request",
                                   "request": {"kind": "visual", "description": 42}},
                         "datachannel")
    assert err.code == "invalid_request" and "'description'" in err.message
    assert not [r for r in teacher.replies if r["type"] == "content.accepted"]
    await _everyone_still_receives(server, teacher)
    assert [e for e in seen if e["type"].startswith("visual.")] == []


async def _offer_with_data_sections(count: int) -> str:
    """A real aiortc offer whose data-channel section is repeated ``count`` times."""
    pc = RTCPeerConnection()
    try:
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    head, section = sdp.split("m=application", 1)
    # Candidates only in the first section (bundled), as a compact offer would have them.
    bare = "".join(line for line in section.splitlines(keepends=True)
                   if not line.startswith(("a=candidate", "a=end-of-candidates",
                                           "a=fingerprint:sha-384", "a=fingerprint:sha-512")))
    sections = [("m=application" + (section if i == 0 else bare)).replace("a=mid:0",
                                                                          f"a=mid:{i}")
                for i in range(count)]
    return head + "".join(sections)


@pytest.mark.parametrize("via", VIAS)
async def test_offer_with_100_media_sections_is_refused_before_parsing(
        server: Harness, via: str) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=via == "datachannel")
    sdp = await _offer_with_data_sections(100)
    err = await _refused(teacher, {"type": "offer", "sdp": sdp}, via)
    assert err.code == "invalid_request" and "100 media sections" in err.message
    assert "internal_error" not in {e["code"] for e in _errors(teacher)}
    if via == "websocket":  # the connection can still negotiate properly
        await teacher._negotiate()
        await teacher.wait_datachannel()
    assert (await teacher.ping()) > 0


async def test_a_teacher_offer_sending_three_videos_is_refused(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    pc = RTCPeerConnection()
    try:
        pc.createDataChannel("events")
        for _ in range(3):
            pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        err = await _refused(teacher, {"type": "offer", "sdp": pc.localDescription.sdp},
                             "websocket")
        assert err.code == "invalid_request" and "3 video tracks" in err.message
    finally:
        await pc.close()
    assert (await _media_state(server))["sources"] == []


async def _media_state(server: Harness) -> dict:
    media = server.app[__import__("signaling.keys").keys.MEDIA].hub.sessions.get("s1")
    return media.state() if media else {"sources": []}


# -- 15. ids of refused messages, rate_limited ----------------------------------------------------

@pytest.mark.parametrize("via", VIAS)
async def test_oversized_message_with_the_id_last_gets_its_re(server: Harness, via: str) -> None:
    student = await server.client("ada")
    limit = server.classroom.config.max_message_bytes
    huge = json.dumps({"type": "message", "to": {"group": "teacher"}, "text": "x" * (limit + 10),
                       "data": {"item": {"id": "nested-id"}}, "id": "big-last"})
    await student.send_raw(huge, via=via)
    reply = await _wait_reply(student, lambda r: r["type"] == "error")
    assert reply["payload"]["code"] == "message_too_large"
    assert reply["re"] == "big-last"


async def test_rate_limited_carries_a_numeric_retry_after_ms(make_server) -> None:
    server = await make_server(rate_messages_per_s=5, rate_burst=2,
                               rate_violations_before_close=100)
    await server.classroom.create_session(session_id="s1", teacher_id="t")
    student = await server.client("ada", transport="websocket", webrtc=False)
    for i in range(6):
        await student.send({"type": "help.request", "kind": "hand", "text": f"{i}"})
    reply = await _wait_reply(student, lambda r: r["type"] == "error"
                              and r["payload"]["code"] == "rate_limited")
    retry = reply["payload"]["retry_after_ms"]
    assert isinstance(retry, int) and 0 < retry <= 1000 and reply["re"] is not None


async def test_a_text_message_that_is_not_utf8_on_the_data_channel_is_malformed_not_fatal(
        server: Harness, caplog) -> None:
    """aiortc would end the peer's DTLS loop with a traceback (rtc_server/patches/
    datachannel_text.py); now it is one refused message and the channel stays."""
    from aiortc.rtcsctptransport import WEBRTC_STRING

    caplog.set_level(logging.INFO)
    student = await server.client("ada")
    channel = student.events_channel
    transport = channel.transport
    # What no aiortc API sends: PPID "string" with bytes that are not UTF-8.
    channel._addBufferedAmount(6)
    transport._data_channel_queue.append((channel, WEBRTC_STRING, b'{"\xff\xfe":1}'))
    await transport._data_channel_flush()
    reply = await _wait_reply(student, lambda r: r["type"] == "error")
    assert reply["payload"]["code"] == "malformed_message" and reply["re"] is None
    assert "not valid JSON" in reply["payload"]["message"]
    pong = await student.request({"type": "ping", "t": 1}, via="datachannel")
    assert pong["type"] == "pong" and student.events_via == "datachannel"
    assert "Traceback" not in caplog.text
