"""AI content end to end: real aiortc students, the local composer and an OpenAI-wire fake."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import ClientError
from tests.support.fake_openai import Behaviour
from tests.support.server import Harness


async def content_events(client, generation_id: str, timeout: float = 20.0) -> list[dict]:
    """Every content.* event of one generation, up to its final event."""
    out = []
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event(timeout=timeout)
            if event["type"].startswith("content.") and \
                    event["payload"].get("generation_id") == generation_id:
                out.append(event)
                if event["type"] in ("content.done", "content.stopped", "content.failed"):
                    return out


def text_of(events: list[dict]) -> str:
    chunks = [e["payload"] for e in events if e["type"] == "content.chunk"]
    assert [c["index"] for c in chunks] == list(range(len(chunks))), "chunks in order"
    return "".join(c["text"] for c in chunks)


@pytest.fixture
async def fast_server(make_server):
    server = await make_server(local_tokens_per_s=400)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher",
                                          subject="Biology", grade_level="7",
                                          current_topic="Photosynthesis")
    return server


async def test_teacher_request_streams_to_every_student_in_order(fast_server: Harness):
    teacher = await fast_server.client("teacher", "teacher")
    students = [await fast_server.client(f"s{i}", transport="websocket" if i == 2 else "auto")
                for i in range(3)]
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "Explain how leaves make sugar from light"}})
    gid = reply["generation_id"]
    texts = []
    for student in students:
        events = await content_events(student, gid)
        assert events[0]["type"] == "content.started"
        assert events[0]["payload"]["provider"] == "local-composer"
        done = events[-1]
        assert done["type"] == "content.done"
        assert text_of(events) == done["payload"]["text"]
        texts.append(done["payload"]["text"])
    assert len(set(texts)) == 1 and "photosynthesis" in texts[0].lower()
    record = await fast_server.classroom.get_session("s1")
    assert record.content_history[-1]["text"] == texts[0]
    # coalescing: far fewer chunks than tokens
    assert done["payload"]["chunks"] < done["payload"]["tokens"]


async def test_teacher_can_stop_a_generation(make_server):
    server = await make_server(local_tokens_per_s=20)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher")
    student = await server.client("stu")
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "A long lesson about volcanoes"}})
    await asyncio.sleep(0.5)
    await teacher.request({"type": "content.stop", "generation_id": reply["generation_id"]})
    events = await content_events(student, reply["generation_id"])
    assert events[-1]["type"] == "content.stopped"
    assert events[-1]["payload"]["text"] == text_of(events)


async def test_personalised_generation_reaches_only_its_group(fast_server: Harness):
    teacher = await fast_server.client("teacher", "teacher")
    ann, bob, cy = [await fast_server.client(u) for u in ("ann", "bob", "cy")]
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "personalized", "prompt": "Why do plants need water?",
        "students": [{"user_id": "ann", "level": "beginner", "learning_style": "visual"},
                     {"user_id": "bob", "level": "advanced", "learning_style": "reading_writing"}]}})
    groups = {tuple(g["members"]): g["name"] for g in reply["groups"]}
    assert set(groups) == {("ann",), ("bob",)}
    a_started = await ann.next_event("content.started")
    b_started = await bob.next_event("content.started")
    assert a_started["to"] == {"group": groups[("ann",)]}
    assert b_started["to"] == {"group": groups[("bob",)]}
    assert a_started["payload"]["generation_id"] != b_started["payload"]["generation_id"]
    a_done = await ann.next_event("content.done")
    assert a_done["payload"]["generation_id"] == a_started["payload"]["generation_id"]
    await asyncio.sleep(0.3)
    assert not [e for e in list(cy._queue._queue) if e and e["type"].startswith("content.")]


async def test_offline_student_receives_personalised_content_on_return(fast_server: Harness):
    teacher = await fast_server.client("teacher", "teacher")
    away = await fast_server.client("zoe")
    await away.drop()
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "personalized", "prompt": "Photosynthesis recap",
        "students": [{"user_id": "zoe", "level": "beginner"}]}})
    group = reply["groups"][0]["name"]
    while True:  # the teacher sees the mirrored final event
        event = await teacher.next_event("content.done", timeout=20)
        if event["to"] == {"group": "teacher"}:
            break
    await away.reconnect()
    started = await away.next_event("content.started")
    done = await away.next_event("content.done")
    assert started["to"] == {"group": group}
    assert done["payload"]["text"]


@pytest.mark.parametrize("request_,where", [
    ({"kind": "sermon", "prompt": "x"}, "kind"),
    ({"kind": "lesson", "prompt": ""}, "prompt"),
    ({"kind": "lesson", "prompt": "x" * 5000}, "prompt"),
])
async def test_bad_content_requests_are_named(fast_server: Harness, request_, where):
    teacher = await fast_server.client("teacher", "teacher", webrtc=False)
    with pytest.raises(ClientError) as info:
        await teacher.request({"type": "content.request", "request": request_})
    assert info.value.code == "invalid_request"
    assert repr(where) in info.value.message
    assert fast_server.app[__import__("signaling.keys").keys.CONTENT].service.running() == []


async def test_students_cannot_trigger_class_wide_generation(fast_server: Harness):
    student = await fast_server.client("stu", webrtc=False)
    with pytest.raises(ClientError) as info:
        await student.request({"type": "content.request", "request": {
            "kind": "lesson", "prompt": "Make everyone read this"}})
    assert info.value.code == "forbidden"


@pytest.mark.parametrize("role,refusal", [
    ("teacher", "only students signal confusion; you are 'teacher'"),
    ("observer", "observers only receive; they cannot signal confusion"),
])
async def test_only_students_signal_confusion(fast_server: Harness, role, refusal):
    # The student rule of base/access.py, worded as every other refusal of it.
    someone = await fast_server.client(f"{role}-1", role, webrtc=False)
    with pytest.raises(ClientError) as info:
        await someone.request({"type": "content.confused", "detail": "lost"})
    assert info.value.code == "forbidden"
    assert info.value.message == refusal


async def test_confusion_from_enough_students_triggers_a_supplement(fast_server: Harness):
    teacher = await fast_server.client("teacher", "teacher")
    students = [await fast_server.client(f"q{i}") for i in range(3)]
    first = await students[0].request({"type": "content.confused", "detail": "light reactions?"})
    assert first["supplement"] is False
    second = await students[1].request({"type": "content.confused", "detail": "chlorophyll"})
    assert second["supplement"] is True
    started = await students[0].next_event("content.started")
    assert started["payload"]["trigger"] == "confusion"
    assert sorted(started["payload"]["affected_users"]) == ["q0", "q1"]
    done = await students[1].next_event("content.done")
    assert done["payload"]["text"]
    await asyncio.sleep(0.2)
    assert not [e for e in list(students[2]._queue._queue)
                if e and e["type"] == "content.started"]
    confusion = await teacher.next_event("content.confusion")
    assert confusion["payload"]["user"] == "q0"


async def test_confusion_names_the_generation_it_is_about(make_server):
    # Slow: the second lesson is stopped while it streams (the history keeps only finished
    # ones), and one student's signal sets off no supplement (one of two is not enough).
    server = await make_server(local_tokens_per_s=40)
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher", webrtc=False)
    student = await server.client("stu", webrtc=False)
    await server.client("other", webrtc=False)
    first = (await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "Why is the sky blue", "max_tokens": 16}}))["generation_id"]
    assert (await content_events(student, first, timeout=30))[-1]["type"] == "content.done"
    second = (await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "A long lesson about volcanoes"}}))["generation_id"]
    await student.next_event("content.chunk")
    await teacher.request({"type": "content.stop", "generation_id": second})
    # About the earlier, finished lesson, not the latest one; then the stopped one; then none.
    for named in (first, second, None):
        message = {"type": "content.confused", "detail": "lost"}
        if named:
            message["generation_id"] = named
        assert (await student.request(message))["supplement"] is False
        confusion = await teacher.next_event("content.confusion")
        assert confusion["payload"]["generation_id"] == named
        assert confusion["payload"]["user"] == "stu"
    with pytest.raises(ClientError) as info:  # request() matches the error by its `re`
        await student.request({"type": "content.confused", "generation_id": "0123abcd"})
    assert info.value.code == "not_found" and "'0123abcd'" in info.value.message


async def test_openai_compatible_endpoint_is_used_without_code_change(make_server, fake_openai):
    fake_openai.then(Behaviour(tokens=["Leaves ", "use ", "light. ", "Then ", "sugar."]))
    server = await make_server(openai_base_url=fake_openai.base_url, openai_api_key="sk-test",
                               openai_model="tiny-model")
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher")
    student = await server.client("stu")
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "Leaves"}})
    events = await content_events(student, reply["generation_id"])
    assert events[0]["payload"]["provider"] != "local-composer"
    assert events[0]["payload"]["model"] == "tiny-model"
    assert events[-1]["payload"]["text"] == "Leaves use light. Then sugar."
    assert fake_openai.chat_requests[0].body["model"] == "tiny-model"


async def test_mid_stream_failure_keeps_what_students_received(make_server, fake_openai):
    fake_openai.then(Behaviour(mode="error_mid", tokens=["One. ", "Two. ", "Three."],
                               fail_after=2))
    server = await make_server(openai_base_url=fake_openai.base_url, openai_api_key="k")
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher")
    student = await server.client("stu")
    reply = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "Numbers"}})
    events = await content_events(student, reply["generation_id"])
    assert events[-1]["type"] == "content.failed"
    assert events[-1]["payload"]["error"]
    assert text_of(events) == events[-1]["payload"]["text"] == "One. Two. "
