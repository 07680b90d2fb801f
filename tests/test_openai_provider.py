"""OpenAITextProvider with the real ``openai`` client against the local fake server."""


from __future__ import annotations

import asyncio
import time

import pytest

from rtc_server.ai import (
    GenerationFailed,
    GenerationTimeout,
    LessonBrief,
    OpenAIImageProvider,
    OpenAISettings,
    OpenAITextProvider,
    TextRequest,
)
from rtc_server.ai.provider import ChatMessage, ImageRequest

# Fixture import until tests/conftest.py imports tests.support.conftest_content; then delete.
from tests.support.fake_openai import DEFAULT_TOKENS, PNG_1X1, Behaviour, FakeOpenAI

REQUEST = TextRequest(
    brief=LessonBrief(kind="lesson", topic="photosynthesis"),
    messages=(ChatMessage("system", "be brief"), ChatMessage("user", "Explain photosynthesis")),
)


def provider(fake: FakeOpenAI, **overrides) -> OpenAITextProvider:
    values = dict(
        model="gpt-test",
        api_key="sk-test",
        base_url=fake.base_url,
        timeout_s=2.0,
        max_retries=2,
        backoff_s=0.01,
    )
    values.update(overrides)
    return OpenAITextProvider(OpenAISettings(**values))


async def collect(p: OpenAITextProvider):
    texts, usages = [], []
    async for delta in p.stream(REQUEST):
        if delta.text:
            texts.append(delta.text)
        if delta.usage is not None:
            usages.append(delta.usage)
    return texts, usages


async def test_stream_normal_reassembles_text_and_usage(fake_openai: FakeOpenAI) -> None:
    p = provider(fake_openai)
    texts, usages = await collect(p)
    await p.aclose()
    assert texts == DEFAULT_TOKENS
    assert len(usages) == 1
    assert usages[0].completion_tokens == len(DEFAULT_TOKENS)
    assert usages[0].prompt_tokens == 4  # "be brief" + "Explain photosynthesis"
    body = fake_openai.chat_requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-test"
    assert body["messages"][1] == {"role": "user", "content": "Explain photosynthesis"}


async def test_stream_slow_first_token_still_completes(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(first_token_delay_s=0.4))
    p = provider(fake_openai)
    start = time.monotonic()
    first_at = None
    texts = []
    async for delta in p.stream(REQUEST):
        if delta.text:
            first_at = first_at or time.monotonic()
            texts.append(delta.text)
    await p.aclose()
    assert first_at is not None and first_at - start >= 0.4
    assert "".join(texts) == "".join(DEFAULT_TOKENS)
    assert len(fake_openai.chat_requests) == 1  # slow is not a failure: no retry


async def test_stream_error_mid_stream_raises_with_partial_text(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(mode="error_mid", fail_after=3))
    p = provider(fake_openai)
    texts: list[str] = []
    with pytest.raises(GenerationFailed) as info:
        async for delta in p.stream(REQUEST):
            texts.append(delta.text)
    await p.aclose()
    assert info.value.stage == "stream"
    assert "upstream model crashed" in info.value.reason
    assert info.value.partial_text == "".join(DEFAULT_TOKENS[:3]) == "".join(texts)
    assert len(fake_openai.chat_requests) == 1  # never retried once tokens flowed


async def test_stream_connection_dropped_mid_stream_raises(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(mode="drop_mid", fail_after=2))
    p = provider(fake_openai)
    with pytest.raises(GenerationFailed) as info:
        await collect(p)
    await p.aclose()
    assert info.value.stage == "stream"
    assert info.value.partial_text == "".join(DEFAULT_TOKENS[:2])
    assert "connection" in info.value.reason


async def test_stream_hang_times_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(mode="hang"))
    p = provider(fake_openai, timeout_s=0.3, max_retries=0)
    start = time.monotonic()
    with pytest.raises(GenerationTimeout) as info:
        await collect(p)
    await p.aclose()
    assert time.monotonic() - start < 2.0
    assert info.value.stage == "connect"
    assert info.value.partial_text == ""


async def test_stream_retries_500_before_first_token(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(mode="status", status=500))
    p = provider(fake_openai)
    texts, _ = await collect(p)
    await p.aclose()
    assert texts == DEFAULT_TOKENS
    assert [r.outcome for r in fake_openai.chat_requests] == ["status", "completed"]


async def test_stream_gives_up_after_max_retries(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(*[Behaviour(mode="status", status=503)] * 3)
    p = provider(fake_openai, max_retries=2)
    with pytest.raises(GenerationFailed) as info:
        await collect(p)
    await p.aclose()
    assert info.value.attempts == 3
    assert info.value.status_code == 503
    assert len(fake_openai.chat_requests) == 3


async def test_stream_does_not_retry_client_errors(fake_openai: FakeOpenAI) -> None:
    fake_openai.then(Behaviour(mode="status", status=400))
    p = provider(fake_openai)
    with pytest.raises(GenerationFailed) as info:
        await collect(p)
    await p.aclose()
    assert info.value.status_code == 400
    assert len(fake_openai.chat_requests) == 1


async def test_stream_cancellation_closes_upstream(fake_openai: FakeOpenAI) -> None:
    tokens = [f" w{i}" for i in range(200)]
    fake_openai.then(Behaviour(tokens=tokens, token_delay_s=0.02))
    p = provider(fake_openai)
    seen = asyncio.Event()

    async def consume() -> None:
        async for delta in p.stream(REQUEST):
            if delta.text == " w2":
                seen.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake_openai.wait_for_outcome(0) == "disconnected"
    record = fake_openai.chat_requests[0]
    # The server stopped within a few tokens, not after all 200.
    assert record.tokens_sent < 20
    await p.aclose()


async def test_image_provider_returns_png_data_url(fake_openai: FakeOpenAI) -> None:
    p = OpenAIImageProvider(
        OpenAISettings(model="img-test", api_key="sk-test", base_url=fake_openai.base_url)
    )
    result = await p.generate(ImageRequest(description="the water cycle"))
    await p.aclose()
    assert result.mime == "image/png"
    assert result.data is not None and result.data.startswith("data:image/png;base64,")
    import base64

    assert base64.b64decode(result.data.split(",", 1)[1]) == PNG_1X1
    assert "the water cycle" in fake_openai.requests[0].body["prompt"]


def test_azure_settings_build_azure_client() -> None:
    from openai import AsyncAzureOpenAI

    settings = OpenAISettings(
        model="gpt-4o",
        api_key="k",
        azure_endpoint="https://example.invalid",
        api_version="2024-06-01",
    )
    p = OpenAITextProvider(settings)
    assert p.name == "azure-openai"
    assert isinstance(p._client, AsyncAzureOpenAI)
    with pytest.raises(ValueError, match="api_version"):
        OpenAISettings(model="m", api_key="k", azure_endpoint="https://x.invalid").make_client()
