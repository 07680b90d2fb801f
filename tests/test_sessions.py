"""An ended class stays ended: no revival by a create, old tokens refused after a reopen."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from signaling.client import ClassroomClient, ConnectRefused
from tests.support.server import SECRET, Harness


async def _call(server: Harness, method: str, path: str, token: str, body: dict | None = None):
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{server.url}{path}", json=body or {},
            headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status, await resp.json()


async def test_an_ended_class_cannot_be_revived_by_creating_it_again(server: Harness) -> None:
    teacher_token = server.token("teacher", "teacher")
    student_token = server.token("ada")
    status, _ = await _call(server, "POST", "/api/sessions/s1/end", teacher_token)
    assert status == 200
    status, body = await _call(server, "POST", "/api/sessions", teacher_token,
                               {"subject": "again"})
    assert status == 409 and body["error"]["code"] == "session_exists"
    assert "has ended" in body["error"]["message"]
    status, body = await _call(server, "POST", "/api/sessions", SECRET,
                               {"session_id": "s1", "teacher_id": "teacher"})
    assert status == 409
    with pytest.raises(ConnectRefused) as refused:
        await ClassroomClient(server.url, student_token, webrtc=False).connect()
    assert refused.value.status == 410


async def test_reopening_refuses_tokens_issued_before(server: Harness) -> None:
    old_student = server.token("ada")
    await _call(server, "POST", "/api/sessions/s1/end", server.token("teacher", "teacher"))
    status, body = await _call(server, "POST", "/api/sessions/s1/reopen",
                               server.token("teacher", "teacher"))
    assert status == 403 and "only an admin" in body["error"]["message"]
    await asyncio.sleep(1.1)  # tokens carry whole seconds
    status, body = await _call(server, "POST", "/api/sessions/s1/reopen", SECRET)
    assert status == 200 and body["status"] == "active"
    with pytest.raises(ConnectRefused) as refused:
        await ClassroomClient(server.url, old_student, webrtc=False).connect()
    assert refused.value.status == 401 and refused.value.code == "token_revoked"
    status, body = await _call(server, "GET", "/api/sessions/s1", old_student)
    assert status == 401 and body["error"]["code"] == "token_revoked"
    fresh = ClassroomClient(server.url, server.token("ada"), webrtc=False)
    server.clients.append(fresh)
    await fresh.connect()
    assert fresh.welcome["session"]["status"] == "active"


async def test_a_resume_token_used_again_takes_over(server: Harness) -> None:
    first = await server.client("ada", webrtc=False)
    token = first.welcome["resume_token"]
    second = ClassroomClient(server.url, server.token("ada"), webrtc=False)
    second.resume_token, second.last_seq = token, first.last_seq
    server.clients.append(second)
    await second.connect(resume=True)
    async with asyncio.timeout(5):
        while first.close_code is None:
            await asyncio.sleep(0.05)
    assert first.close_code == 4009
    assert await second.ping() > 0


async def test_websockets_from_other_origins_are_refused(make_server) -> None:
    server = await make_server(allowed_origins=("https://school.example",))
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    url = f"{server.url}/ws?token={server.token('ada')}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403 and "not allowed" in (await resp.json())["error"]["message"]
        for origin in ("https://school.example", server.url):
            async with http.ws_connect(url, headers={"Origin": origin}) as ws:
                assert (await ws.receive_json())["type"] == "welcome"
        async with http.ws_connect(url) as ws:  # no Origin: not a browser
            assert (await ws.receive_json())["type"] == "welcome"


async def test_clients_gone_before_their_welcome_leave_again(server: Harness, caplog) -> None:
    """A client that resets its connection right after the upgrade (a closed tab, a
    load bot): no traceback, and it is not left counted as in the class."""
    import logging
    import socket
    import struct
    from urllib.parse import urlsplit

    caplog.set_level(logging.INFO)
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    request = (f"GET /ws?token={server.token('ghost')}&webrtc=0 HTTP/1.1\r\n"
               f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "\r\n").encode()

    def upgrade_and_reset() -> None:
        with socket.create_connection((host, port)) as s:
            s.sendall(request)
            s.recv(64)  # the 101: the server is now joining us (slowly, see below)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # A join that takes a while (a busy Redis): the client is gone before its welcome.
    classroom = server.classroom
    join = classroom.join

    async def slow_join(*args, **kwargs):
        await asyncio.sleep(0.3)
        return await join(*args, **kwargs)

    classroom.join = slow_join
    await asyncio.gather(*(asyncio.to_thread(upgrade_and_reset) for _ in range(20)))
    await asyncio.sleep(0.5)
    classroom.join = join
    async with asyncio.timeout(10):
        while True:
            part = await server.classroom.store.get_participant("s1", "ghost")
            room = server.classroom.rooms.get("s1")
            if (part is None or part.connections == 0) and not (room and room.connections):
                break
            await asyncio.sleep(0.05)
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The class goes on for the others.
    ada = await server.client("ada", webrtc=False)
    assert await ada.ping() > 0
