"""Fixtures for the content pipeline tests.

Import into ``tests/conftest.py`` with
``from tests.support.conftest_content import content_redis, fake_openai  # noqa: F401``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.support.fake_openai import FakeOpenAI

CONTENT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def fake_openai(aiohttp_server) -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = await aiohttp_server(fake.app)
    fake.base_url = str(server.make_url("/v1"))
    yield fake
    fake.release.set()  # lets "hang" handlers return so the server can shut down


@pytest.fixture
async def content_redis() -> AsyncIterator[tuple[Redis, str]]:
    """A real Redis client and a key prefix unique to this test; keys removed after."""
    client = Redis.from_url(CONTENT_REDIS_URL)
    prefix = f"test:content:{uuid.uuid4().hex}:"
    await client.ping()  # no skip: these tests need the real Redis
    yield client, prefix
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
