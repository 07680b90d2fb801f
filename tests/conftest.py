"""Shared fixtures: a real server on loopback, tokens, and real aiortc clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from tests.support.conftest_content import content_redis, fake_openai  # noqa: F401 - fixtures
from tests.support.server import (  # noqa: F401 - re-exported for tests
    LOOPBACK,
    REDIS_URL,
    SECRET,
    Harness,
    server_config,
)


@pytest.fixture
async def make_server(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    harnesses: list[Harness] = []

    async def make(**overrides: Any) -> Harness:
        server = await aiohttp_server(create_app(server_config(**overrides)))
        # aiohttp's TestServer cancels a handler when its client disconnects; production
        # (rtc_server.__main__, aiohttp's default) lets it run to the end: test that.
        assert server.runner is not None and server.runner.server is not None
        server.runner.server.handler_cancellation = False
        harness = Harness(server)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        await harness.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[str, str]]:
    """The real Redis's URL and a key prefix of this test's own, deleted afterwards."""
    from tests.support.redis_util import delete_prefix, require_redis, unique_prefix

    url = require_redis()
    prefix = unique_prefix()
    try:
        yield url, prefix
    finally:
        await delete_prefix(url, prefix)


@pytest.fixture
def netns():
    """A test-made network namespace (veth to this one) for browsers and shaped links."""
    from tests.support.netns import Namespace

    ns = Namespace.create("t")
    yield ns
    ns.delete()


@pytest.fixture
async def server(make_server: Callable[..., Awaitable[Harness]]) -> Harness:
    harness = await make_server()
    await harness.classroom.create_session(
        session_id="s1",
        teacher_id="teacher",
        subject="Science",
        grade_level="7",
        current_topic="Photosynthesis",
    )
    return harness
