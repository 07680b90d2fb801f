"""Class setup for people: create a class, join by code with a name; the teacher removes a
student; presence says which device; a new page gets the lesson so far."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from signaling.client import ClassroomClient, ClientError
from tests.support.server import SECRET, Harness


async def _post(server: Harness, path: str, body: dict, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(f"{server.url}{path}", json=body,
                                                          headers=headers) as resp:
        return resp.status, await resp.json()


async def test_teacher_creates_a_class_and_a_student_joins_by_code(make_server) -> None:
    server = await make_server(dev=False, open_classes=True)
    status, made = await _post(server, "/api/classes", {
        "subject": "Science", "grade_level": "Year 8", "topic": "Water", "language": "ko",
        "planned_minutes": 40, "teacher_name": "김 선생님"})
    assert status == 201, made
    code = made["join_code"]
    assert len(code) == 6 and code.isalnum() and code.upper() == code
    assert made["join_url"].endswith(f"/join.html?code={code}")

    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}/api/classes/{code.lower()}") as resp:
        assert resp.status == 200
        assert await resp.json() == {"subject": "Science", "grade_level": "Year 8",
                                     "topic": "Water", "language": "ko", "status": "active"}
    status, joined = await _post(server, "/api/join", {"code": code, "name": "  Min-jun  Kim "})
    assert status == 201 and joined["session_id"] == made["session_id"]

    teacher = ClassroomClient(server.url, made["teacher_token"], webrtc=False)
    student = ClassroomClient(server.url, joined["token"], webrtc=False)
    server.clients += [teacher, student]
    await teacher.connect()
    await student.connect()
    assert teacher.welcome["session"]["join_code"] == code
    assert teacher.welcome["session"]["language"] == "ko"
    assert teacher.welcome["session"]["planned_minutes"] == 40
    assert student.welcome["user"]["name"] == "Min-jun Kim"
    assert student.welcome["user"]["id"].startswith("min-jun-kim-")


async def test_creating_a_class_needs_the_secret_unless_open(make_server) -> None:
    server = await make_server(dev=False, open_classes=False)
    status, body = await _post(server, "/api/classes", {"subject": "Art"})
    assert status == 401 and body["error"]["code"] == "token_missing"
    status, body = await _post(server, "/api/classes", {"subject": "Art"},
                               token=server.token("t", "teacher"))
    assert status == 403 and "API secret" in body["error"]["message"]
    status, body = await _post(server, "/api/classes", {"subject": "Art"}, token=SECRET)
    assert status == 201 and body["join_code"]


async def test_unknown_and_ended_codes_say_so(make_server) -> None:
    server = await make_server(open_classes=True)
    status, body = await _post(server, "/api/join", {"code": "ZZZZZZ", "name": "Ann"})
    assert status == 404 and "no class has the code" in body["error"]["message"]
    _, made = await _post(server, "/api/classes", {"subject": "Art"})
    await _post(server, f"/api/sessions/{made['session_id']}/end", {}, token=SECRET)
    status, body = await _post(server, "/api/join", {"code": made["join_code"], "name": "Ann"})
    assert status == 410 and body["error"]["code"] == "session_ended"


async def test_guessing_codes_is_rate_limited(make_server) -> None:
    server = await make_server(open_classes=True)
    statuses = []
    for _ in range(70):
        status, _ = await _post(server, "/api/join", {"code": "ZZZZZZ", "name": "Ann"})
        statuses.append(status)
    assert statuses[0] == 404 and statuses[-1] == 429


async def test_removed_student_is_disconnected_and_cannot_rejoin(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada", webrtc=False)
    ack = await teacher.request({"type": "participant.remove", "user": "ada"})
    assert ack["user"] == "ada"
    removed = await ada.next_event("participant.removed")
    assert removed["payload"] == {"user": "ada", "by": "teacher"}
    async with asyncio.timeout(5):
        while not ada.ws.closed:
            await asyncio.sleep(0.02)
    assert ada.ws.close_code == 4003
    while (presence := await teacher.next_event("presence"))["payload"]["state"] != "removed":
        pass
    assert presence["payload"]["user"] == "ada"
    again = ClassroomClient(server.url, server.token("ada"), webrtc=False)
    with pytest.raises(Exception, match="removed you from this class"):
        await again.connect()
    await again.close()


async def test_students_cannot_remove_anyone(server: Harness) -> None:
    ada = await server.client("ada", webrtc=False)
    with pytest.raises(ClientError, match="only a teacher or admin may remove"):
        await ada.request({"type": "participant.remove", "user": "bob"})


async def test_presence_says_which_device(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{server.url}/ws?token={server.token('bob')}&client=bot"):
            while (event := await teacher.next_event("presence"))["payload"]["user"] != "bob":
                pass
    assert event["payload"]["device"] == "bot" and event["payload"]["state"] == "joined"


async def test_a_new_page_gets_the_lesson_so_far(server: Harness) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    question = await teacher.request({"type": "question.ask", "text": "2+2?", "kind": "choice",
                                      "choices": ["3", "4"], "correct": 1})
    await teacher.request({"type": "message", "to": {"session": True}, "text": "Welcome!"})
    late = await server.client("late", webrtc=False)
    snapshot = late.welcome["snapshot"]
    (open_question,) = snapshot["interactions"]["questions"]
    assert open_question["id"] == question["question"]["id"]
    assert "correct" not in open_question
    assert [m["text"] for m in snapshot["chat"]["messages"]] == ["Welcome!"]
    assert snapshot["at_seq"] == late.welcome["last_seq"]
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{server.url}/ws?token={server.token('bot1')}&snapshot=0") as ws:
        welcome = (await ws.receive_json())["payload"]
    assert "snapshot" not in welcome


async def test_admin_overview_shows_sessions_and_recent_metrics(server: Harness) -> None:
    await server.client("teacher", "teacher", webrtc=False)
    ada = await server.client("ada", webrtc=False)
    await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "hi"})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/api/admin/overview",
                            headers={"Authorization": f"Bearer {SECRET}"}) as resp:
            assert resp.status == 200
            body = await resp.json()
        async with http.get(f"{server.url}/api/admin/overview",
                            headers={"Authorization": f"Bearer {server.token('t', 'teacher')}"}
                            ) as resp:
            assert resp.status == 403
            # The admin rule of base/access.py (admins and the API secret), as worded there.
            assert (await resp.json())["error"]["message"] == (
                "only an admin may open the admin page; you are 'teacher'")
    (session,) = body["sessions"]
    assert (session["id"], session["students"], session["teachers"]) == ("s1", 1, 1)
    assert body["history"] and body["interval_s"] == 5.0
    latest = body["now"]["values"]
    assert latest['classroom_client_messages_total{type=message}'] >= 1
    assert latest["classroom_joins_total"] >= 2
    assert latest["process_resident_memory_bytes"] > 0
