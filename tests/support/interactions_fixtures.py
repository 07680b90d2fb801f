"""A server with live interactions installed, on the memory or the Redis interaction store.

Use with ``from tests.support.interactions_fixtures import ix_kind, ix_server, make_ix_server  # noqa``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from rtc_server import interactions
from rtc_server.interactions import Interactions
from signaling.app import FEATURES, create_app
from signaling.client import ClassroomClient
from signaling.keys import INTERACTIONS
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import Harness, server_config


class IxHarness(Harness):
    interactions: Interactions
    redis_url: str | None = None
    key_prefix: str = "crtc:"


class Recorder:
    """Every stream event a client receives, by type, without consuming its queue."""

    def __init__(self, client: ClassroomClient) -> None:
        self.client = client
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        client.on(None, self._on)

    def _on(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def wait(
        self, type_: str, n: int = 1, where: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while True:
                found = [e for e in self.of(type_) if where is None or where(e["payload"])]
                if len(found) >= n:
                    return found
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def ix_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def make_ix_server(
    aiohttp_server: Callable[..., Awaitable[TestServer]], ix_kind: str,
) -> AsyncIterator[Callable[..., Awaitable[IxHarness]]]:
    made: list[IxHarness] = []

    async def make(*, host: str = "127.0.0.1", ix_options: dict[str, Any] | None = None,
                   **overrides: Any) -> IxHarness:
        redis_url, key_prefix = None, "crtc:"
        if ix_kind == "redis":
            # The whole server on Redis: bus, session store and interaction store.
            redis_url, key_prefix = require_redis(), unique_prefix()
            overrides = {"redis_url": redis_url, "redis_key_prefix": key_prefix, **overrides}
        features = FEATURES
        if ix_options:
            # A test that needs its own evaluator or hints installs the feature with them.
            features = tuple(functools.partial(interactions.build, **ix_options)
                             if f is interactions.build else f for f in FEATURES)
        app = create_app(server_config(**overrides), features=features)
        server = await aiohttp_server(app, host=host)
        harness = IxHarness(server)
        harness.redis_url, harness.key_prefix = redis_url, key_prefix
        harness.interactions = app[INTERACTIONS].interactions
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.close()
        if harness.redis_url:
            await delete_prefix(harness.redis_url, harness.key_prefix)


@pytest.fixture
async def ix_server(make_ix_server: Callable[..., Awaitable[IxHarness]]) -> IxHarness:
    harness = await make_ix_server()
    await harness.classroom.create_session(
        session_id="s1", teacher_id="teacher", subject="Science", grade_level="7",
        current_topic="Photosynthesis",
    )
    return harness
