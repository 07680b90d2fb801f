"""The chat feature: students write to the teacher, the teacher replies, mutes, and a reload
shows the conversation. Real server and clients, in memory and on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from signaling.client import ClassroomClient, ClientError
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import Harness


@pytest.fixture(params=["memory", "redis"])
async def chat_server(request, make_server: Callable[..., Awaitable[Harness]]
                      ) -> AsyncIterator[Harness]:
    overrides = {}
    if request.param == "redis":
        url, prefix = require_redis(), unique_prefix()
        overrides = {"redis_url": url, "redis_key_prefix": prefix}
    harness = await make_server(**overrides)
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
    yield harness
    await harness.close()
    if overrides:
        await delete_prefix(overrides["redis_url"], overrides["redis_key_prefix"])


async def _message(client: ClassroomClient) -> dict:
    return (await client.next_event("message"))["payload"]


async def test_student_question_reaches_the_teacher_and_the_reply_only_that_student(
        chat_server: Harness) -> None:
    teacher = await chat_server.client("teacher", "teacher")
    ada = await chat_server.client("ada")
    bob = await chat_server.client("bob", webrtc=False)

    ack = await ada.request({"type": "message", "to": {"group": "teacher"},
                             "text": "Why is the sky blue?"})
    question = await _message(teacher)
    assert question["from"] == {"user": "ada", "name": "Ada", "role": "student"}
    assert question["text"] == "Why is the sky blue?" and question["to"] == {"group": "teacher"}
    assert ack["seq"] > 0 and question["message_id"].startswith("m-")

    await teacher.request({"type": "message", "to": {"user": "ada"}, "text": "Scattering!",
                           "reply_to": question["message_id"]})
    reply = await _message(ada)
    assert reply["reply_to"] == question["message_id"] and reply["text"] == "Scattering!"

    await teacher.request({"type": "message", "to": {"session": True}, "text": "Good question"})
    assert (await _message(bob))["text"] == "Good question"  # bob never saw the private reply


async def test_students_may_write_only_to_the_teacher(chat_server: Harness) -> None:
    ada = await chat_server.client("ada", webrtc=False)
    await chat_server.client("bob", webrtc=False)
    with pytest.raises(ClientError) as refused:
        await ada.request({"type": "message", "to": {"user": "bob"}, "text": "psst"})
    assert refused.value.code == "forbidden" and "only to the teacher" in refused.value.message
    observer = await chat_server.client("olga", "observer", webrtc=False)
    with pytest.raises(ClientError, match="observers only receive"):
        await observer.request({"type": "message", "to": {"group": "teacher"}, "text": "hi"})


async def test_muted_student_is_refused_until_unmuted(chat_server: Harness) -> None:
    teacher = await chat_server.client("teacher", "teacher", webrtc=False)
    ada = await chat_server.client("ada", webrtc=False)
    await teacher.request({"type": "chat.mute", "user": "ada"})
    assert (await ada.next_event("chat.muted"))["payload"] == {"user": "ada", "muted": True,
                                                             "by": "teacher"}
    with pytest.raises(ClientError) as refused:
        await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "hello?"})
    assert refused.value.code == "chat_muted"
    await teacher.request({"type": "chat.mute", "user": "ada", "muted": False})
    await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "back"})
    assert (await _message(teacher))["text"] == "back"


async def test_students_cannot_mute(chat_server: Harness) -> None:
    ada = await chat_server.client("ada", webrtc=False)
    with pytest.raises(ClientError, match="only a teacher or admin may mute"):
        await ada.request({"type": "chat.mute", "user": "bob"})


async def test_snapshot_holds_the_conversation_each_person_may_see(chat_server: Harness) -> None:
    teacher = await chat_server.client("teacher", "teacher", webrtc=False)
    ada = await chat_server.client("ada", webrtc=False)
    bob = await chat_server.client("bob", webrtc=False)
    await ada.request({"type": "message", "to": {"group": "teacher"}, "text": "from ada"})
    await bob.request({"type": "message", "to": {"group": "teacher"}, "text": "from bob"})
    await teacher.request({"type": "message", "to": {"user": "ada"}, "text": "to ada"})
    await teacher.request({"type": "message", "to": {"session": True}, "text": "to all"})
    await teacher.request({"type": "chat.mute", "user": "bob"})

    teacher_view = await _snapshot(chat_server, "teacher", "teacher")
    assert [m["text"] for m in teacher_view["messages"]] == [
        "from ada", "from bob", "to ada", "to all"]
    assert teacher_view["muted"] == ["bob"]
    ada_view = await _snapshot(chat_server, "ada", "student")
    assert [m["text"] for m in ada_view["messages"]] == ["from ada", "to ada", "to all"]
    assert ada_view["muted"] is False
    bob_view = await _snapshot(chat_server, "bob", "student")
    assert [m["text"] for m in bob_view["messages"]] == ["from bob", "to all"]
    assert bob_view["muted"] is True
    assert all(m["seq"] > 0 for m in teacher_view["messages"])


async def _snapshot(server: Harness, user: str, role: str) -> dict:
    from rtc_server.base.identity import Identity

    who = Identity(session_id="s1", user_id=user, name=user.title(), role=role)  # type: ignore[arg-type]
    return (await server.classroom.snapshot(who, 0))["chat"]


async def test_http_events_endpoint_posts_a_chat_message(chat_server: Harness) -> None:
    import aiohttp

    from tests.support.server import SECRET

    ada = await chat_server.client("ada", webrtc=False)
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat_server.url}/api/sessions/s1/events",
            headers={"Authorization": f"Bearer {SECRET}"},
            json={"to": {"session": True}, "text": "from the school system"}) as resp:
        assert resp.status == 202
        seq = (await resp.json())["seq"]
    message = await ada.next_event("message")
    assert message["seq"] == seq
    assert message["payload"]["from"]["role"] == "system"
    assert message["payload"]["text"] == "from the school system"
