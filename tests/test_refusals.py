"""Tokens and roles: refused before the upgrade, with a JSON error that says why."""

from __future__ import annotations

import time

import aiohttp
import pytest

from signaling.client import ClassroomClient, ConnectRefused
from tests.support.server import LOOPBACK, Harness


async def _ws_status(server: Harness, query: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/ws{query}") as resp:
        return resp.status, await resp.json()


async def test_missing_token_is_401_token_missing(server: Harness):
    status, body = await _ws_status(server, "")
    assert status == 401
    assert body["error"]["code"] == "token_missing"


async def test_forged_token_is_401_token_invalid(server: Harness):
    forged = server.token("mallory", "teacher", secret="another-secret-of-sufficient-length-xx")
    status, body = await _ws_status(server, f"?token={forged}")
    assert status == 401
    assert body["error"]["code"] == "token_invalid"
    assert "signature" in body["error"]["message"]


async def test_garbage_token_is_401_token_invalid(server: Harness):
    status, body = await _ws_status(server, "?token=not.a.jwt")
    assert (status, body["error"]["code"]) == (401, "token_invalid")


async def test_expired_token_is_401_token_expired(server: Harness):
    old = server.token("eve", now_s=time.time() - 3600, ttl_s=60)
    client = ClassroomClient(server.url, old, ice_host_addresses=LOOPBACK)
    with pytest.raises(ConnectRefused) as info:
        await client.connect()
    assert info.value.status == 401
    assert info.value.code == "token_expired"


async def test_student_of_unknown_session_is_404(server: Harness):
    status, body = await _ws_status(server, f"?token={server.token('x', session='nope')}")
    assert (status, body["error"]["code"]) == (404, "session_not_found")


async def test_teacher_token_opens_a_new_session(server: Harness):
    client = await server.client("t2", "teacher", session="fresh", webrtc=False)
    assert client.welcome["session"]["id"] == "fresh"
    assert client.welcome["session"]["teacher_id"] == "t2"


async def test_ended_session_refuses_joins_with_410(server: Harness):
    teacher = await server.client("teacher", "teacher", webrtc=False)
    await teacher.request({"type": "session.end"})
    status, body = await _ws_status(server, f"?token={server.token('late')}")
    assert (status, body["error"]["code"]) == (410, "session_ended")


async def test_token_minting_needs_the_api_secret(server: Harness):
    body = {"session_id": "s1", "user_id": "u1", "role": "student"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/tokens", json=body) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "token_missing"
        headers = {"Authorization": f"Bearer {server.token('t', 'teacher')}"}
        async with http.post(f"{server.url}/api/tokens", json=body, headers=headers) as resp:
            assert resp.status == 403
        secret = server.app[__import__("signaling.keys").keys.CONFIG].api_secret
        headers = {"Authorization": f"Bearer {secret}"}
        async with http.post(f"{server.url}/api/tokens", json=body, headers=headers) as resp:
            assert resp.status == 201
            minted = await resp.json()
        async with http.post(
            f"{server.url}/api/tokens", headers=headers, json=body | {"role": "wizard"}
        ) as resp:
            assert resp.status == 422
            assert "role" in (await resp.json())["error"]["message"]
    client = ClassroomClient(server.url, minted["token"], webrtc=False)
    await client.connect()
    assert client.welcome["user"] == {"id": "u1", "name": "u1", "role": "student"}
    await client.close()


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/api/sessions/s1/end", None),
        ("PATCH", "/api/sessions/s1", {"current_topic": "Mitosis"}),
        ("PUT", "/api/sessions/s1/groups/g1", {"add": ["a"]}),
        ("POST", "/api/sessions/s1/events", {"text": "hi"}),
        ("POST", "/api/sessions", {"subject": "Math"}),
    ],
)
async def test_student_calling_teacher_only_endpoint_is_403(server: Harness, method, path, body):
    headers = {"Authorization": f"Bearer {server.token('stu')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{server.url}{path}", json=body, headers=headers) as resp,
    ):
        assert resp.status == 403
        data = await resp.json()
        assert data["error"]["code"] == "forbidden"
        assert "student" in data["error"]["message"]
    record = await server.classroom.get_session("s1")
    assert record.status == "active" and record.current_topic == "Photosynthesis"


async def test_teacher_session_api_create_get_patch_end(server: Harness):
    headers = {"Authorization": f"Bearer {server.token('tina', 'teacher', session='bio')}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/api/sessions",
            headers=headers,
            json={"subject": "Biology", "grade_level": "9", "current_topic": "Cells"},
        ) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["id"] == "bio" and created["teacher_id"] == "tina"
        assert created["status"] == "active" and created["created_at_ms"] > 0
        async with http.patch(
            f"{server.url}/api/sessions/bio", headers=headers, json={"current_topic": "Mitosis"}
        ) as resp:
            assert (await resp.json())["current_topic"] == "Mitosis"
        async with http.get(f"{server.url}/api/sessions/bio", headers=headers) as resp:
            got = await resp.json()
            assert got["current_topic"] == "Mitosis" and got["subject"] == "Biology"
        async with http.get(f"{server.url}/api/sessions/s1", headers=headers) as resp:
            assert resp.status == 403
        async with http.post(f"{server.url}/api/sessions/bio/end", headers=headers) as resp:
            assert (await resp.json())["status"] == "ended"


async def test_students_cannot_broadcast_or_regroup_over_the_socket(server: Harness):
    from signaling.client import ClientError

    student = await server.client("stu")
    with pytest.raises(ClientError) as info:
        await student.request({"type": "message", "to": {"session": True}, "text": "hi all"})
    assert info.value.code == "forbidden"
    with pytest.raises(ClientError) as info:
        await student.request({"type": "group.set", "group": "g", "add": ["stu"]})
    assert info.value.code == "forbidden"
    observer = await server.client("obs", "observer")
    with pytest.raises(ClientError) as info:
        await observer.request({"type": "message", "to": {"group": "teacher"}, "text": "x"})
    assert info.value.code == "forbidden"
    # but a student may write to the teacher
    teacher = await server.client("teacher", "teacher")
    ack = await student.request({"type": "message", "to": {"group": "teacher"}, "text": "help"})
    assert ack["type"] == "ack" and ack["seq"] > 0
    while True:
        event = await teacher.next_event("message")
        if event["payload"]["text"] == "help":
            break
    assert event["payload"]["from"]["user"] == "stu"
