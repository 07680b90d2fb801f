"""ContentService end to end with the local composer and the fake OpenAI server."""


from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from rtc_server.ai import OpenAIImageProvider, OpenAISettings, OpenAITextProvider
from rtc_server.base.protocol import EventType
from rtc_server.content import (
    ContentCache,
    ContentService,
    Destination,
    InvalidContentRequest,
    LocalImageProvider,
    LocalTextProvider,
)

# Fixture import until tests/conftest.py imports tests.support.conftest_content; then delete.
from tests.support.fake_openai import Behaviour, FakeOpenAI

SESSION = "s1"
ROOM = Destination.session(SESSION)
CONTEXT = {"subject": "Biology", "grade": 7, "current_topic": "Photosynthesis"}
LESSON = {"kind": "lesson", "prompt": "Explain how plants make sugar from sunlight"}


class Recorder:
    """The publish callable: collects (audience, type, payload) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Destination, str, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    async def __call__(self, audience: Destination, type: EventType, payload: dict[str, Any]
                       ) -> None:
        self.events.append((audience, type.name, payload))
        self.changed.set()

    def of(self, type: str, generation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            p
            for _, t, p in self.events
            if t == type and (generation_id is None or p.get("generation_id") == generation_id)
        ]

    def types(self, generation_id: str | None = None) -> list[str]:
        return [
            t
            for _, t, p in self.events
            if generation_id is None or p.get("generation_id") == generation_id
        ]

    async def wait_for(self, predicate, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            self.changed.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, "timed out waiting for events"
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass


class CountingProvider(LocalTextProvider):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = 0

    def stream(self, request):
        self.calls += 1
        return super().stream(request)


class CountingImages(LocalImageProvider):
    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, request):
        self.calls += 1
        return await super().generate(request)


@pytest.fixture
async def closing():
    """Closes services (and their HTTP clients) after the test."""
    services: list[ContentService] = []
    yield services.append
    for service in services:
        await service.close()


def make_service(recorder: Recorder, provider=None, images=None, **kwargs: Any) -> ContentService:
    kwargs.setdefault("chunk_max_delay_ms", 40.0)
    return ContentService(
        provider or LocalTextProvider(tokens_per_s=0),
        images or LocalImageProvider(),
        ContentCache.build(memory_entries=32),
        recorder,
        **kwargs,
    )


def openai_text(fake: FakeOpenAI, **overrides: Any) -> OpenAITextProvider:
    values = dict(
        model="gpt-test", api_key="sk-test", base_url=fake.base_url, timeout_s=5.0, max_retries=0
    )
    values.update(overrides)
    return OpenAITextProvider(OpenAISettings(**values))


async def test_generate_streams_started_chunks_done_in_order() -> None:
    rec = Recorder()
    history: list[tuple[str, Any]] = []

    async def store(session_id: str, record: Any) -> None:
        history.append((session_id, record))

    service = make_service(rec, history=store)
    result = await service.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    gid = result.generation_id
    types = rec.types(gid)
    assert types[0] == "content.started" and types[-1] == "content.done"
    assert set(types[1:-1]) == {"content.chunk"}
    chunks = rec.of("content.chunk", gid)
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    done = rec.of("content.done", gid)[0]
    assert "".join(c["text"] for c in chunks) == done["text"] == result.text
    assert done["provider"] == "local-composer" and done["cached"] is False
    assert done["tokens"] == result.tokens > done["chunks"] == len(chunks) > 1
    assert done["usage"]["completion_tokens"] == result.tokens
    assert done["ttft_ms"] is not None
    assert all(audience == ROOM for audience, _, _ in rec.events)
    started = rec.of("content.started", gid)[0]
    assert started["kind"] == "lesson" and started["audience"]["kind"] == "session"
    assert len(result.overhead_ms) == result.tokens
    assert history and history[0][0] == SESSION and history[0][1].text == result.text
    assert service.stats.generations_done == 1 and service.running() == []


async def test_coalescing_off_publishes_one_chunk_per_token() -> None:
    rec = Recorder()
    service = make_service(rec, chunk_max_delay_ms=0)
    result = await service.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    assert result.chunks == result.tokens == len(rec.of("content.chunk"))


async def test_plan_publishes_sections_that_fit_minutes_and_follow_understanding() -> None:
    rec = Recorder()
    service = make_service(rec)
    low = {
        "kind": "plan",
        "topic": "Fractions",
        "minutes_remaining": 15,
        "responses": [
            {"correct": False, "confidence": 0.9},
            {"correct": False},
            {"correct": True, "confidence": 0.2},
        ],
    }
    result = await service.generate(SESSION, low, ROOM, context=CONTEXT)
    sections = rec.of("content.section", result.generation_id)
    assert [s["index"] for s in sections] == list(range(len(sections)))
    assert [s["type"] for s in sections][:2] == ["review", "guided_practice"]
    assert sum(s["estimated_minutes"] for s in sections) <= 15
    assert all(s["difficulty"] == "beginner" and s["content"] for s in sections)
    assert "materials" in sections[0]
    types = rec.types(result.generation_id)
    # Each section is announced as soon as its text completes, before the end.
    assert types.index("content.section") < len(types) - 2
    high = {"kind": "plan", "topic": "Fractions", "minutes_remaining": 15, "understanding": 0.95}
    result2 = await service.generate(SESSION, high, ROOM, context=CONTEXT)
    high_types = [s["type"] for s in rec.of("content.section", result2.generation_id)]
    assert "challenge" in high_types and "review" not in high_types


async def test_cancel_publishes_stopped_and_closes_upstream(
    fake_openai: FakeOpenAI, closing
) -> None:
    fake_openai.then(Behaviour(tokens=[f" w{i}." for i in range(200)], token_delay_s=0.02))
    rec = Recorder()
    service = make_service(rec, provider=openai_text(fake_openai))
    closing(service)
    task = asyncio.create_task(service.generate(SESSION, LESSON, ROOM, context=CONTEXT))
    await rec.wait_for(lambda: len(rec.of("content.chunk")) >= 3)
    gid = rec.of("content.started")[0]["generation_id"]
    service.cancel(gid)
    result = await asyncio.wait_for(task, 2)
    assert result.outcome == "stopped"
    stopped = rec.of("content.stopped", gid)
    assert len(stopped) == 1 and rec.types(gid)[-1] == "content.stopped"
    assert stopped[0]["text"] == "".join(c["text"] for c in rec.of("content.chunk", gid))
    assert await fake_openai.wait_for_outcome(0) == "disconnected"
    assert fake_openai.chat_requests[0].tokens_sent < 50
    assert service.stats.generations_stopped == 1
    assert service.scheduler.active == 0


async def test_cancel_unknown_generation_raises() -> None:
    from rtc_server.content import GenerationNotFound

    with pytest.raises(GenerationNotFound):
        make_service(Recorder()).cancel("nope")


async def test_caller_cancellation_publishes_stopped(fake_openai: FakeOpenAI, closing) -> None:
    fake_openai.then(Behaviour(tokens=[f" w{i}" for i in range(200)], token_delay_s=0.02))
    rec = Recorder()
    service = make_service(rec, provider=openai_text(fake_openai))
    closing(service)
    task = asyncio.create_task(service.generate(SESSION, LESSON, ROOM, context=CONTEXT))
    await rec.wait_for(lambda: len(rec.of("content.chunk")) >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.types()[-1] == "content.stopped"
    assert await fake_openai.wait_for_outcome(0) == "disconnected"


async def test_mid_stream_failure_publishes_failed_with_partial_text(
    fake_openai: FakeOpenAI, closing
) -> None:
    tokens = ["Plants", " use", " light", ".", " Then", " they"]
    fake_openai.then(Behaviour(mode="error_mid", tokens=tokens, fail_after=5))
    rec = Recorder()
    service = make_service(rec, provider=openai_text(fake_openai))
    closing(service)
    result = await service.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    gid = result.generation_id
    assert result.outcome == "failed"
    failed = rec.of("content.failed", gid)
    assert len(failed) == 1 and rec.types(gid)[-1] == "content.failed"
    assert failed[0]["text"] == "Plants use light. Then"
    assert "upstream model crashed" in failed[0]["error"]
    assert failed[0]["stage"] == "stream"
    # Everything received reached the students before the failure event.
    assert "".join(c["text"] for c in rec.of("content.chunk", gid)) == "Plants use light. Then"
    assert rec.of("content.done") == []


async def test_ttft_reflects_slow_first_token(fake_openai: FakeOpenAI, closing) -> None:
    fake_openai.then(Behaviour(first_token_delay_s=0.25))
    rec = Recorder()
    service = make_service(rec, provider=openai_text(fake_openai))
    closing(service)
    result = await service.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    assert result.outcome == "done"
    assert result.ttft_ms is not None and result.ttft_ms >= 250
    assert result.usage is not None and result.usage.completion_tokens == result.tokens
    assert rec.of("content.done")[0]["model"] == "gpt-test"


async def test_personalized_one_generation_per_group() -> None:
    rec = Recorder()
    provider = CountingProvider(tokens_per_s=0)
    service = make_service(rec, provider=provider)
    created: list[list[str]] = []

    async def before_start(groups) -> None:
        assert rec.events == []  # groups exist before any chunk is sent
        created.append([g.name for g in groups])

    request = {
        "kind": "personalized",
        "prompt": "Explain photosynthesis",
        "students": [
            {"user_id": "ann", "level": "beginner", "learning_style": "visual"},
            {"user_id": "bob", "level": "advanced", "learning_style": "kinesthetic"},
            {"user_id": "cat", "level": "beginner", "learning_style": "visual"},
            {"user_id": "dan", "level": "beginner", "learning_style": "visual"},
        ],
    }
    out = await service.generate_personalized(
        SESSION, request, context=CONTEXT, before_start=before_start
    )
    names = ["profile:advanced:kinesthetic", "profile:beginner:visual"]
    assert created == [names]
    assert {g.name: g.members for g in out.groups} == {
        names[0]: ("bob",),
        names[1]: ("ann", "cat", "dan"),
    }
    assert provider.calls == 2
    starts = rec.of("content.started")
    assert sorted(s["audience"]["name"] for s in starts) == names
    assert all(a.kind == "group" for a, _, _ in rec.events)
    texts = {out.results[n].text for n in names}
    assert len(texts) == 2  # adapted per profile
    assert "Level: advanced" in out.results[names[0]].text
    assert "card" in out.results[names[0]].text  # kinesthetic activity
    assert "Level: beginner" in out.results[names[1]].text
    assert "concept map" in out.results[names[1]].text


async def test_identical_request_is_served_from_cache() -> None:
    rec = Recorder()
    provider = CountingProvider(tokens_per_s=0)
    service = make_service(rec, provider=provider)
    first = await service.generate(SESSION, LESSON, ROOM, context=CONTEXT)
    spaced = {"kind": "lesson", "prompt": "  Explain how plants make   SUGAR from sunlight "}
    second = await service.generate("s2", spaced, Destination.session("s2"), context=CONTEXT)
    assert provider.calls == 1
    assert second.cached and second.text == first.text
    done = rec.of("content.done", second.generation_id)[0]
    assert done["cached"] is True
    chunks = rec.of("content.chunk", second.generation_id)
    assert "".join(c["text"] for c in chunks) == first.text and len(chunks) > 1
    assert service.stats.cache_hits == 1 and service.stats.cache_misses == 1


async def test_hanging_session_does_not_delay_another(fake_openai: FakeOpenAI, closing) -> None:
    fake_openai.then(Behaviour(mode="hang"))
    rec = Recorder()
    service = make_service(rec, provider=openai_text(fake_openai, timeout_s=30), max_concurrent=2)
    closing(service)
    room_a, room_b = Destination.session("A"), Destination.session("B")
    hung = asyncio.create_task(service.generate("A", LESSON, room_a, context=CONTEXT))
    queued = asyncio.create_task(
        service.generate("A", {"kind": "lesson", "prompt": "Other"}, room_a, context=CONTEXT)
    )
    await rec.wait_for(lambda: len(rec.of("content.started")) == 2)
    await asyncio.sleep(0.05)
    assert service.scheduler.active_for("A") == 1 and service.scheduler.queued == 1
    start = time.monotonic()
    result_b = await asyncio.wait_for(service.generate("B", LESSON, room_b, context=CONTEXT), 2.0)
    assert result_b.outcome == "done"
    assert time.monotonic() - start < 1.0
    assert not hung.done()
    await service.close()
    results = await asyncio.wait_for(asyncio.gather(hung, queued), 2)
    assert [r.outcome for r in results] == ["stopped", "stopped"]


@pytest.mark.parametrize(
    ("request_data", "field"),
    [
        ({"kind": "lesson", "prompt": "   "}, "prompt"),
        ({"kind": "lesson", "prompt": "x" * 201}, "prompt"),
        ({"kind": "plan", "topic": "Fractions", "minutes_remaining": 0}, "minutes_remaining"),
        ({"kind": "adapt", "text": "Some text", "target_difficulty": 9}, "target_difficulty"),
        ({"kind": "quiz", "prompt": "x"}, "kind"),
        ({"kind": "visual", "description": "a cell"}, "kind"),
    ],
)
async def test_bad_request_raises_invalid_and_publishes_nothing(request_data, field) -> None:
    rec = Recorder()
    service = make_service(rec, max_prompt_chars=200)
    with pytest.raises(InvalidContentRequest) as info:
        await service.generate(SESSION, request_data, ROOM, context=CONTEXT)
    assert info.value.field.startswith(field)
    assert rec.events == []


async def test_supplement_started_is_marked_with_trigger() -> None:
    rec = Recorder()
    service = make_service(rec)
    audience = Destination.group(SESSION, "supplement:confusion")
    request = {
        "kind": "supplement",
        "trigger": "confusion",
        "details": "2 of 5 confused",
        "affected_users": ["ann", "bob"],
    }
    result = await service.generate(SESSION, request, audience, context=CONTEXT)
    started = rec.of("content.started", result.generation_id)[0]
    assert started["trigger"] == "confusion" and started["affected_users"] == ["ann", "bob"]
    assert "Photosynthesis" in result.text and "looked unsure" in result.text


async def test_visual_done_then_cached_without_calling_provider(closing) -> None:
    rec = Recorder()
    images = CountingImages()
    service = make_service(rec, images=images)
    closing(service)
    request = {"description": "How chlorophyll captures sunlight", "style": "diagram"}
    first = await service.generate_visual(SESSION, request, ROOM, context=CONTEXT)
    second = await service.generate_visual(SESSION, request, ROOM, context=CONTEXT)
    assert images.calls == 1
    assert rec.types() == ["visual.started", "visual.done", "visual.started", "visual.done"]
    done = rec.of("visual.done")
    assert done[0]["cached"] is False and done[1]["cached"] is True
    assert done[0]["data"] == done[1]["data"] == first.data == second.data
    assert done[0]["data"].startswith("data:image/svg+xml;base64,")


async def test_visual_failure_publishes_fallbacks(fake_openai: FakeOpenAI, closing) -> None:
    fake_openai.image_script.append(Behaviour(mode="status", status=500))
    rec = Recorder()
    images = OpenAIImageProvider(
        OpenAISettings(model="img", api_key="k", base_url=fake_openai.base_url, max_retries=0)
    )
    service = make_service(rec, images=images)
    closing(service)
    result = await service.generate_visual(
        SESSION, {"description": "the water cycle"}, ROOM, context=CONTEXT
    )
    assert result.outcome == "failed"
    failed = rec.of("visual.failed")
    assert len(failed) == 1 and "500" in failed[0]["error"]
    assert len(failed[0]["fallback_suggestions"]) >= 2
    assert any("water" in s for s in failed[0]["fallback_suggestions"])
    assert service.stats.visuals_failed == 1
