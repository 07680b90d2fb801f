"""Hints and answer judgements grounded in the class's material (the content feature's
teaching aid, used by the interactions feature through the core — neither imports the
other). Without a model, hints quote the passage that holds the answer; with a model,
the prompt carries the relevant passages and the verdict says it used them."""

from __future__ import annotations

import json

import aiohttp

from tests.support.fake_openai import Behaviour, FakeOpenAI
from tests.support.material_pdfs import fixture_text
from tests.support.server import Harness

WATER = fixture_text("water_cycle.md")


async def _add_material(server: Harness) -> None:
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/sessions/s1/materials?filename=water.md&title=Water",
            data=WATER.encode(), headers={"Authorization":
                                          f"Bearer {server.token('teacher', 'teacher')}",
                                          "Content-Type": "text/markdown"}) as resp:
        assert resp.status == 201


async def test_local_hints_quote_the_material(make_server) -> None:
    server = await make_server()
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    await _add_material(server)
    teacher = await server.client("teacher", "teacher", webrtc=False)
    await teacher.request({"type": "question.ask", "kind": "free", "correct": "evaporation",
                           "text": "What do we call water turning into vapour?"})
    hints = (await teacher.next_event("hints.ready"))["payload"]["hints"]
    assert any("[p" in hint for hint in hints), hints  # cites the passage
    assert any("____" in hint for hint in hints), hints  # its sentence, the answer blanked
    assert not any("evaporation" in hint.lower() for hint in hints[:1])


async def test_hints_without_material_stay_generic(make_server) -> None:
    server = await make_server()
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    teacher = await server.client("teacher", "teacher", webrtc=False)
    await teacher.request({"type": "question.ask", "kind": "free", "correct": "evaporation",
                           "text": "What do we call water turning into vapour?"})
    hints = (await teacher.next_event("hints.ready"))["payload"]["hints"]
    assert hints and not any("[p" in hint for hint in hints)


async def test_the_model_judges_free_answers_against_the_passages(
        make_server, fake_openai: FakeOpenAI) -> None:
    server = await make_server(openai_base_url=fake_openai.base_url, openai_api_key="k")
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    await _add_material(server)
    teacher = await server.client("teacher", "teacher", webrtc=False)
    student = await server.client("ada", webrtc=False)
    question = await teacher.request({
        "type": "question.ask", "kind": "free", "correct": "evaporation",
        "text": "What do we call water turning into vapour?"})
    await teacher.next_event("hints.ready")
    verdict = json.dumps({"correct": True, "score": 0.9, "feedback": "Yes, see [p2]."})
    fake_openai.then(Behaviour(tokens=[verdict]))
    await student.request({"type": "answer.submit", "id": "a1", "text": "it evaporates",
                           "question_id": question["question"]["id"]})
    evaluated = (await teacher.next_event("answer.evaluated", timeout=20))["payload"]
    assert evaluated["correct"] is True and evaluated["score"] == 0.9
    assert evaluated["evaluator"].endswith("+material")
    prompt = json.dumps(fake_openai.chat_requests[-1].body["messages"])
    assert "it evaporates" in prompt and "[p" in prompt  # the passages went with it
    assert "evaporat" in prompt.lower()
