"""Grounded generation with a model: what is sent (asserted on the fake OpenAI server),
the context budget, embeddings ranking with its BM25 fallback, and citations in events."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import numpy as np
import pytest
from openai import AsyncOpenAI

from rtc_server.ai import OpenAISettings, OpenAITextProvider
from rtc_server.base.protocol import EventType
from rtc_server.content import (
    ContentCache,
    ContentService,
    Destination,
    LocalImageProvider,
    LocalTextProvider,
    parse_content_request,
)
from rtc_server.content.prompts import (
    GROUNDED_RULES,
    build_evaluation_request,
    build_hints_request,
    build_text_request,
    select_passages,
)
from rtc_server.content.requests import parse_context
from rtc_server.interactions.evaluator import TextProviderEvaluator
from rtc_server.interactions.hints import TextProviderHintProvider
from rtc_server.interactions.questions import Answer, Question
from rtc_server.material import (
    EmbeddingsRetriever,
    Material,
    build_index,
    extract_material,
    ground,
)
from tests.support.fake_openai import Behaviour, FakeOpenAI, fake_embedding
from tests.support.material_pdfs import fixture_text

SESSION = "s1"
ROOM = Destination.session(SESSION)
CONTEXT = {"subject": "Science", "grade": "Year 8", "current_topic": "Photosynthesis"}
LESSON = {"kind": "lesson", "prompt": "Explain condensation and how clouds form",
          "topic": "Condensation"}


@pytest.fixture(scope="module")
def water() -> Material:
    return extract_material(fixture_text("water_cycle.md").encode(), filename="water_cycle.md",
                            material_id="w1", created_at=0.0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, audience: Destination, type: EventType,
                       payload: dict[str, Any]) -> None:
        self.events.append((type.name, payload))

    def of(self, type: str) -> list[dict[str, Any]]:
        return [p for t, p in self.events if t == type]


def service(recorder: Recorder, fake: FakeOpenAI | None = None, **kwargs: Any) -> ContentService:
    text = LocalTextProvider(tokens_per_s=0)
    if fake is not None:
        text = OpenAITextProvider(OpenAISettings(model="gpt-test", api_key="sk-test",
                                                 base_url=fake.base_url, max_retries=0))
    return ContentService(text, LocalImageProvider(), ContentCache.build(memory_entries=8),
                          recorder, chunk_max_delay_ms=0, **kwargs)


def user_message(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def test_grounded_prompt_quotes_the_relevant_passages_first(water: Material) -> None:
    index = build_index([water])
    request = parse_content_request(LESSON)
    grounding = ground(index, "Condensation Explain condensation and how clouds form")
    text_request = build_text_request(request, parse_context(CONTEXT), grounding=grounding)
    system, user = (m.content for m in text_request.messages)
    assert GROUNDED_RULES in system
    condensation = next(p for p in index.passages if p.heading == "Condensation")
    assert f"[{condensation.label}] (Condensation)\n{condensation.text}" in user
    # Most relevant first: the condensation passage comes before any other passage.
    first = user.index("\n[p")
    assert user[first + 1 :].startswith(f"[{condensation.label}]")
    assert "Cite passage ids in square brackets" in user
    assert "Grade level: Year 8." in user and "Write in English." in user
    assert text_request.brief.grounding is grounding


def test_context_budget_drops_the_lowest_ranked_passages(water: Material) -> None:
    grounding = ground(build_index([water]), "water vapor clouds condensation evaporation", k=6)
    everything = select_passages(grounding, 100_000)
    assert [p.label for p in everything] == [p.label for p in grounding.passages]
    budget = sum(len(p.text) for p in everything[:2]) + 80
    kept = select_passages(grounding, budget)
    assert [p.label for p in kept] == [p.label for p in everything[:2]]
    tiny = select_passages(grounding, 120)
    assert len(tiny) == 1 and tiny[0].label == everything[0].label
    assert len(tiny[0].text) < len(everything[0].text) and tiny[0].text.endswith(".")
    request = build_text_request(parse_content_request(LESSON), parse_context({}),
                                 grounding=grounding, budget_chars=budget)
    user = request.messages[1].content
    assert everything[1].text in user and everything[2].text not in user


def test_hint_and_evaluation_prompts_are_grounded(water: Material) -> None:
    grounding = ground(build_index([water]), "water that falls from clouds")
    hints = build_hints_request("What falls from clouds?", ["rain", "fog"], "rain",
                                grounding=grounding)
    user = hints.messages[1].content
    assert "Precipitation is water that falls from clouds" in user
    assert "JSON list of strings" in user and "[p3]" in user
    verdict = build_evaluation_request("What falls from clouds?", "precipitation",
                                       "rain and snow", grounding=grounding, language="ko")
    system, user = (m.content for m in verdict.messages)
    assert '"sources"' in system and GROUNDED_RULES in system
    assert "Student answer: rain and snow" in user and "Write in Korean." in user
    plain = build_hints_request("What falls from clouds?", [], "rain")
    assert "[p" not in plain.messages[1].content


async def test_model_path_sends_passages_and_events_carry_citations(
    fake_openai: FakeOpenAI, water: Material
) -> None:
    fake_openai.then(Behaviour(tokens=[
        "## Summary\n", "Condensation is the process by which water vapor cools ", "[p5].",
        " Clouds are droplets [p5, p6].\n", "## Try it\n", "Why? [p99]",
    ]))
    rec = Recorder()
    svc = service(rec, fake_openai)
    result = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    await svc.close()
    assert result.outcome == "done"
    user = user_message(fake_openai.chat_requests[0].body)
    assert "Condensation is the process by which water vapor cools" in user
    assert "[p5] (Condensation)" in user and "Cite passage ids" in user
    started = rec.of("content.started")[0]
    assert started["grounding"]["material"] == [{"id": "w1", "title": "The Water Cycle"}]
    assert started["grounding"]["passages"][0] == "p5"
    assert started["grounding"]["ranker"] == "bm25"
    done = rec.of("content.done")[0]
    assert [s["id"] for s in done["sources"]] == ["p5", "p6"]
    assert done["sources"][0] == {"id": "p5", "material_id": "w1",
                                  "material_title": "The Water Cycle", "passage": "p5",
                                  "page": None, "heading": "Condensation"}
    assert done["citations"] == [{"heading": "Summary", "sources": ["p5", "p6"]}]
    assert done["unknown_sources"] == ["p99"]


async def test_plan_sections_carry_their_sources(fake_openai: FakeOpenAI, water: Material) -> None:
    fake_openai.then(Behaviour(tokens=[
        "## 1. Quick recap (2 min)\n", "Evaporation [p3].\n",
        "## 2. New idea explained (4 min)\n", "Condensation [p5].\n",
        "## 3. Practice (3 min)\n", "Questions.\n", "## 4. Wrap-up (1 min)\n", "Bye [p8].",
    ]))
    rec = Recorder()
    svc = service(rec, fake_openai)
    await svc.generate(SESSION, {"kind": "plan", "topic": "water cycle", "minutes_remaining": 10},
                       ROOM, context=CONTEXT, material=[water])
    await svc.close()
    assert [s["sources"] for s in rec.of("content.section")] == [["p3"], ["p5"], [], ["p8"]]
    user = user_message(fake_openai.chat_requests[0].body)
    assert "## 1. Quick recap (2 min)" in user and "[p" in user


async def test_without_material_nothing_changes(fake_openai: FakeOpenAI) -> None:
    rec = Recorder()
    svc = service(rec, fake_openai)
    await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    await svc.close()
    body = fake_openai.chat_requests[0].body
    assert GROUNDED_RULES not in body["messages"][0]["content"]
    assert "[p" not in user_message(body)
    assert "grounding" not in rec.of("content.started")[0]
    assert "sources" not in rec.of("content.done")[0]


async def test_local_composer_through_the_service_cites_too(water: Material) -> None:
    rec = Recorder()
    svc = service(rec)
    await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    await svc.close()
    done = rec.of("content.done")[0]
    assert done["provider"] == "local-composer"
    assert "p5" in [s["id"] for s in done["sources"]]
    assert {c["heading"] for c in done["citations"]} >= {"Summary", "Key terms"}
    assert "unknown_sources" not in done


async def test_cache_key_follows_the_material(water: Material) -> None:
    rec = Recorder()
    svc = service(rec)
    other = extract_material(fixture_text("photosynthesis_ko.md").encode(), filename="k.md",
                             material_id="k1", created_at=0.0)
    first = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    again = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    changed = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[other])
    bare = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    await svc.close()
    assert again.cached and again.text == first.text
    assert not changed.cached and changed.text != first.text
    assert not bare.cached and "Add a reading" in bare.text
    assert svc.indexes.builds == 2  # each material analysed once


def embeddings(fake: FakeOpenAI) -> EmbeddingsRetriever:
    client = AsyncOpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0)
    return EmbeddingsRetriever(client, "fake-embed", timeout_s=5.0)


async def test_embeddings_rank_passages_and_are_computed_once(
    fake_openai: FakeOpenAI, water: Material
) -> None:
    rec = Recorder()
    svc = service(rec, fake_openai, retriever=embeddings(fake_openai))
    await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    await svc.generate(SESSION, {**LESSON, "prompt": "How does precipitation fall?",
                                 "topic": "Precipitation"}, ROOM, context=CONTEXT,
                       material=[water])
    await svc.close()
    calls = fake_openai.embedding_requests
    # Passages once (one batch), then one query per generation.
    assert [len(c.body["input"]) for c in calls] == [len(build_index([water]).passages), 1, 1]
    assert calls[0].body["model"] == "fake-embed"
    started = rec.of("content.started")
    assert started[0]["grounding"]["ranker"] == "embeddings:fake-embed"
    assert started[1]["grounding"]["passages"][0] == "p6"  # the precipitation passage
    assert "[p6] (Precipitation)" in user_message(fake_openai.chat_requests[1].body)


async def test_embeddings_failure_falls_back_to_bm25(
    fake_openai: FakeOpenAI, water: Material
) -> None:
    fake_openai.embedding_script.append(Behaviour(mode="status", status=404))
    retriever = embeddings(fake_openai)
    rec = Recorder()
    svc = service(rec, fake_openai, retriever=retriever)
    result = await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    await svc.close()
    assert result.outcome == "done" and retriever.failures == 1
    grounding = rec.of("content.started")[0]["grounding"]
    assert grounding["ranker"] == "bm25" and grounding["passages"][0] == "p5"


async def test_embeddings_failures_log_once_and_wait_before_retrying(
    fake_openai: FakeOpenAI, water: Material, caplog: pytest.LogCaptureFixture
) -> None:
    fake_openai.embedding_script.extend([Behaviour(mode="status", status=404)] * 2)
    now = [0.0]
    client = AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    retriever = EmbeddingsRetriever(client, "fake-embed", timeout_s=5.0, retry_after_s=60.0,
                                    clock=lambda: now[0])
    rec = Recorder()
    svc = service(rec, fake_openai, retriever=retriever)
    with caplog.at_level("DEBUG", logger="rtc_server.material.embeddings"):
        await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
        now[0] = 30.0  # within the wait: BM25 without asking the endpoint
        await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
        now[0] = 61.0  # past it: asked again (fails, logged at debug level only)
        await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
        now[0] = 122.0  # the endpoint answers again
        await svc.generate(SESSION, LESSON, ROOM, context=CONTEXT, material=[water])
    await svc.close()
    assert len(fake_openai.embedding_requests) == 1 + 1 + 2  # failed, failed, passages+query
    assert [g["grounding"]["ranker"] for g in rec.of("content.started")] == [
        "bm25", "bm25", "bm25", "embeddings:fake-embed"]
    records = [r for r in caplog.records if r.name == "rtc_server.material.embeddings"]
    assert [r.levelname for r in records] == ["WARNING", "DEBUG", "INFO"]
    assert all(r.exc_info is None for r in records)


async def test_a_server_with_an_embeddings_model_ranks_the_material_by_it(
    make_server, fake_openai: FakeOpenAI, water: Material
) -> None:
    server = await make_server(openai_base_url=fake_openai.base_url, openai_api_key="k",
                               openai_embeddings_model="fake-embed")
    await server.classroom.create_session(session_id="s1", teacher_id="teacher")
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/sessions/s1/materials?filename=water.md&title=Water",
            data=fixture_text("water_cycle.md").encode(),
            headers={"Authorization": f"Bearer {server.token('teacher', 'teacher')}",
                     "Content-Type": "text/markdown"}) as resp:
        assert resp.status == 201
    teacher = await server.client("teacher", "teacher", webrtc=False)
    await teacher.request({"type": "content.request",
                           "request": {"kind": "lesson", "prompt": "what makes clouds"}})
    started = (await teacher.next_event("content.started"))["payload"]
    await teacher.next_event("content.done", timeout=20)

    calls = fake_openai.embedding_requests
    assert [c.body["model"] for c in calls] == ["fake-embed", "fake-embed"]
    passages, (query,) = calls[0].body["input"], calls[1].body["input"]
    assert query == "what makes clouds"
    scores = np.array([fake_embedding(p) for p in passages]) @ np.array(fake_embedding(query))
    by_embeddings = f"p{int(np.argmax(scores)) + 1}"
    index = build_index([water])
    by_bm25 = index.passages[ground(index, query).hits[0].index].label
    assert by_embeddings != by_bm25  # the query tells the two rankers apart
    assert started["grounding"]["ranker"] == "embeddings:fake-embed"
    assert started["grounding"]["passages"][0] == by_embeddings
    quoted = re.findall(r"^\[(p\d+)\]", user_message(fake_openai.chat_requests[-1].body), re.M)
    assert quoted[0] == by_embeddings  # the model is sent the embeddings' best passage first


async def test_hints_and_judging_without_material_send_the_shared_templates(
    fake_openai: FakeOpenAI,
) -> None:
    """The interactions feature's own model path (no material) sends the same templates
    as the grounded one, without the passages and without imposing a language."""
    model = OpenAITextProvider(OpenAISettings(model="gpt-test", api_key="sk-test",
                                              base_url=fake_openai.base_url, max_retries=0))
    choice = Question(id="q1", text="What falls from clouds?", kind="choice",
                      choices=("rain", "fog"), correct=0, opened_at_ms=0, asked_by="t")
    free = Question(id="q2", text="What is condensation?", kind="free",
                    correct="vapour turning into droplets", opened_at_ms=0, asked_by="t")
    fake_openai.then(Behaviour(tokens=['["Look up.", "It is wet."]']),
                     Behaviour(tokens=['{"correct": true, "score": 1, "feedback": "Yes."}']))
    assert await TextProviderHintProvider(model).hints(choice) == ["Look up.", "It is wet."]
    answer = Answer(id="a1", question_id="q2", user_id="ada", name="Ada", text="droplets form",
                    client_id="c1", submitted_at_ms=0)
    verdict = await TextProviderEvaluator(model).evaluate(free, answer, now_ms=0)
    await model.aclose()
    assert verdict.correct is True and verdict.evaluator == "ai:openai"

    hints_sent, verdict_sent = (r.body["messages"] for r in fake_openai.chat_requests)
    expected_hints = build_hints_request("What falls from clouds?", ["rain", "fog"], "rain",
                                         language=None)
    assert hints_sent == [{"role": m.role, "content": m.content}
                          for m in expected_hints.messages]
    assert "Answer: 'rain'" in hints_sent[-1]["content"]  # the right choice, not its index
    expected_verdict = build_evaluation_request("What is condensation?",
                                                "vapour turning into droplets",
                                                "droplets form", language=None)
    assert verdict_sent == [{"role": m.role, "content": m.content}
                            for m in expected_verdict.messages]
    for sent in (hints_sent, verdict_sent):
        text = json.dumps(sent)
        assert "Write in" not in text and "[p" not in text and GROUNDED_RULES not in text
    assert '"sources"' not in verdict_sent[0]["content"]  # no passages to name
