"""Reaching the test Redis: skip without it, but fail when CI says it is required.

``CLASSROOM_REQUIRE_REDIS=1`` (set by CI) turns an unreachable Redis into a
test failure, so a broken service cannot pass as a run of skipped tests.
Tests use database 15 (``REDIS_URL`` in conftest) and a key prefix of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio

REQUIRE_ENV = "CLASSROOM_REQUIRE_REDIS"

_reachable: dict[str, str | None] = {}  # url -> None when reachable, else the error


def redis_url() -> str:
    """The test Redis URL (``REDIS_URL`` in conftest: database 15 unless overridden)."""
    from tests.support.server import REDIS_URL  # late: conftest may import this module

    return REDIS_URL


def require_redis() -> str:
    """The URL of a reachable test Redis; skip the test, or fail it under CI, otherwise."""
    url = redis_url()
    if url not in _reachable:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
            _reachable[url] = None
        except redis.RedisError as exc:
            _reachable[url] = f"{type(exc).__name__}: {exc}"
        finally:
            client.close()
    error = _reachable[url]
    if error is not None:
        message = f"Redis at {url} is unreachable ({error})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{message}; set {REQUIRE_ENV}=1 to make this a failure")
    return url


def unique_prefix() -> str:
    """A key prefix no other test (or test run) uses."""
    return f"test:{uuid.uuid4().hex}:"


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def prefixed_keys(url: str, prefix: str) -> AsyncIterator[str]:
    """The keys under ``prefix`` (decoded)."""
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            yield key
    finally:
        await client.aclose()


def redis_client(url: str) -> redis.asyncio.Redis:
    """A client like the server's (``decode_responses=True``); the caller closes it."""
    return redis.asyncio.Redis.from_url(url, decode_responses=True)
