"""SessionStore behaviour, the same tests for MemoryStore and RedisStore."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from rtc_server.base.exceptions import InvalidRequest, SessionExists, SessionNotFound
from rtc_server.state.memory_store import MemoryStore
from rtc_server.state.redis_store import RedisStore
from rtc_server.state.store import HISTORY_MAX, SESSION_TTL_S, SessionRecord, SessionStore
from tests.support.redis_util import (
    delete_prefix,
    prefixed_keys,
    redis_client,
    require_redis,
    unique_prefix,
)


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisStore]:
    url = require_redis()
    prefix = unique_prefix()
    client = redis_client(url)
    store = RedisStore(client, key_prefix=prefix)
    try:
        yield store
    finally:
        await client.aclose()
        await delete_prefix(url, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> SessionStore:
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("redis_store")


def record(session_id: str = "s1", **fields) -> SessionRecord:
    fields.setdefault("subject", "Science")
    fields.setdefault("grade_level", "7")
    fields.setdefault("current_topic", "Photosynthesis")
    return SessionRecord(id=session_id, teacher_id="teacher", **fields)


async def test_create_get_update_end_roundtrip(store: SessionStore) -> None:
    created = await store.create(record())
    assert created.created_at_ms > 0 and created.updated_at_ms >= created.created_at_ms

    got = await store.get("s1")
    assert got is not None
    assert (got.id, got.teacher_id, got.subject, got.grade_level, got.current_topic) == (
        "s1",
        "teacher",
        "Science",
        "7",
        "Photosynthesis",
    )
    assert got.status == "active"
    assert got.participants == {} and got.groups == {} and got.ai_context == {}
    assert got.content_history == [] and got.interaction_history == []
    assert got.created_at_ms == created.created_at_ms

    updated = await store.update("s1", {"current_topic": "Respiration", "subject": "Biology"})
    assert (updated.subject, updated.current_topic) == ("Biology", "Respiration")
    got = await store.get("s1")
    assert got is not None and (got.subject, got.current_topic) == ("Biology", "Respiration")
    assert got.grade_level == "7"

    ended = await store.end("s1")
    assert ended.status == "ended"
    got = await store.get("s1")
    assert got is not None and got.status == "ended"
    assert await store.get("other") is None


async def test_create_refuses_active_duplicate(store: SessionStore) -> None:
    await store.create(record(subject="First"))
    with pytest.raises(SessionExists, match="already exists"):
        await store.create(record(subject="Second"))
    got = await store.get("s1")
    assert got is not None and got.subject == "First"


async def test_an_ended_session_stays_ended_until_reopened(store: SessionStore) -> None:
    await store.create(record(subject="First"))
    await store.append_history("s1", "content", {"n": 1})
    await store.end("s1")
    with pytest.raises(SessionExists, match="has ended"):
        await store.create(record(subject="Second"))
    reopened = await store.reopen("s1", now_ms=123_456)
    assert (reopened.subject, reopened.status, reopened.tokens_after_ms) == (
        "First", "active", 123_456)
    got = await store.get("s1")
    assert got is not None and got.content_history == [{"n": 1}]


async def test_update_non_editable_field_refused_and_state_unchanged(
    store: SessionStore,
) -> None:
    await store.create(record())
    before = await store.get("s1")
    for changes in ({"status": "ended"}, {"teacher_id": "mallory", "subject": "Hacked"}):
        with pytest.raises(InvalidRequest, match="cannot be changed"):
            await store.update("s1", changes)
    assert await store.get("s1") == before


async def test_unknown_session_raises_not_found(store: SessionStore) -> None:
    assert await store.get("nope") is None
    calls = [
        store.update("nope", {"subject": "x"}),
        store.update_context("nope", {"k": 1}),
        store.end("nope"),
        store.change_connections("nope", user_id="u", name="U", role="student", delta=1, now_ms=1),
        store.set_group("nope", "g", add=["u"], remove=[]),
        store.append_history("nope", "content", {"n": 1}),
    ]
    for call in calls:
        with pytest.raises(SessionNotFound, match="'nope'"):
            await call
    assert await store.get("nope") is None


async def test_change_connections_counts_and_clamps(store: SessionStore) -> None:
    created = await store.create(record())
    kw = dict(user_id="ann", role="student")
    part = await store.change_connections("s1", name="Ann", delta=1, now_ms=1000, **kw)
    assert (part.user_id, part.name, part.role, part.connections) == ("ann", "Ann", "student", 1)
    part = await store.change_connections("s1", name="Ann", delta=1, now_ms=2000, **kw)
    assert part.connections == 2 and part.last_seen_ms == 2000
    part = await store.change_connections("s1", name="", delta=-1, now_ms=3000, **kw)
    assert part.connections == 1 and part.name == "Ann"  # an empty name keeps the old one
    part = await store.change_connections("s1", name="Ann", delta=-5, now_ms=4000, **kw)
    assert part.connections == 0
    await store.change_connections(
        "s1", user_id="bob", name="Bob", role="observer", delta=1, now_ms=5000
    )

    got = await store.get("s1", participants=True)
    assert got is not None
    assert {u: (p.connections, p.role) for u, p in got.participants.items()} == {
        "ann": (0, "student"),
        "bob": (1, "observer"),
    }
    assert got.participants["ann"].last_seen_ms == 4000
    # Presence is kept apart from the record: a plain read does not carry (or copy) it.
    plain = await store.get("s1")
    assert plain is not None and plain.participants == {}
    assert plain.updated_at_ms == created.updated_at_ms  # presence is not a session change
    part = await store.get_participant("s1", "bob")
    assert part is not None and part.connections == 1
    assert await store.get_participant("s1", "nobody") is None
    # The record survives the round trip through its JSON form.
    assert SessionRecord.from_json(got.to_json(history=True)) == got


async def test_groups_add_remove_and_empty_group_disappears(store: SessionStore) -> None:
    await store.create(record())
    assert await store.set_group("s1", "table-1", add=["a", "b"], remove=[]) == ["a", "b"]
    assert await store.set_group("s1", "table-1", add=["b", "c", "c"], remove=[]) == [
        "a",
        "b",
        "c",
    ]
    assert await store.set_group("s1", "table-2", add=["d"], remove=[]) == ["d"]
    assert await store.set_group("s1", "table-1", add=[], remove=["a", "zed"]) == ["b", "c"]
    got = await store.get("s1")
    assert got is not None and got.groups == {"table-1": ["b", "c"], "table-2": ["d"]}

    assert await store.set_group("s1", "table-1", add=[], remove=["b", "c"]) == []
    assert await store.set_group("s1", "table-2", add=["e"], remove=["d", "e"]) == []
    got = await store.get("s1")
    assert got is not None and got.groups == {}


async def test_history_is_bounded_and_kept_per_kind(store: SessionStore) -> None:
    await store.create(record())
    for n in range(HISTORY_MAX + 5):
        await store.append_history("s1", "content", {"n": n})
    await store.append_history("s1", "interaction", {"q": "why?", "tags": [], "meta": {}})
    got = await store.get("s1")
    assert got is not None
    assert len(got.content_history) == HISTORY_MAX
    assert got.content_history[0] == {"n": 5}
    assert got.content_history[-1] == {"n": HISTORY_MAX + 4}
    assert got.interaction_history == [{"q": "why?", "tags": [], "meta": {}}]
    assert got.to_json()["content_history"] == HISTORY_MAX


async def test_update_context_merges(store: SessionStore) -> None:
    await store.create(record())
    await store.update_context("s1", {"level": "basic", "misconceptions": []})
    merged = await store.update_context(
        "s1", {"level": "advanced", "notes": {}, "big": 2**62 + 1, "text": 'Grüße "quoted"'}
    )
    expected = {
        "level": "advanced",
        "misconceptions": [],
        "notes": {},
        "big": 2**62 + 1,
        "text": 'Grüße "quoted"',
    }
    assert merged.ai_context == expected
    got = await store.get("s1")
    assert got is not None and got.ai_context == expected
    # Values are copies: changing what the caller passed or got does not change the store.
    merged.ai_context["level"] = "changed"
    got = await store.get("s1")
    assert got is not None and got.ai_context["level"] == "advanced"


async def test_claim_message_once_until_released(store: SessionStore) -> None:
    await store.create(record())
    assert await store.claim_message("s1", "ann", "m1") is True
    assert await store.claim_message("s1", "ann", "m1") is False
    # The same id from another user, or in another session, is another message.
    assert await store.claim_message("s1", "bob", "m1") is True
    assert await store.claim_message("s2", "ann", "m1") is True
    await store.release_message("s1", "ann", "m1")
    assert await store.claim_message("s1", "ann", "m1") is True
    await store.release_message("s1", "ann", "never-claimed")


async def test_cursor_keeps_the_highest_seq(store: SessionStore) -> None:
    await store.create(record())
    assert await store.get_cursor("s1", "ann") == 0
    await store.set_cursor("s1", "ann", 7)
    await store.set_cursor("s1", "ann", 3)
    await store.set_cursor("s1", "bob", 2)
    assert await store.get_cursor("s1", "ann") == 7
    assert await store.get_cursor("s1", "bob") == 2
    assert await store.get_cursor("s2", "ann") == 0


@pytest.mark.redis
async def test_redis_keys_expire_after_last_write(redis_store: RedisStore) -> None:
    store = redis_store
    await store.create(record())
    await store.append_history("s1", "content", {"n": 1})
    await store.append_history("s1", "interaction", {"n": 1})
    url = require_redis()
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    try:
        await store.claim_message("s1", "u", "m1")
        await store.set_cursor("s1", "u", 3)
        keys = [key async for key in prefixed_keys(url, store._prefix)]
        assert len(keys) == 5
        for key in keys:
            await client.expire(key, 5)
        await store.change_connections(
            "s1", user_id="u", name="U", role="student", delta=1, now_ms=1
        )
        for key in keys:
            ttl = await client.ttl(key)
            assert SESSION_TTL_S - 60 < ttl <= SESSION_TTL_S, key
    finally:
        await client.aclose()


async def test_status_alone_follows_the_session(store: SessionStore) -> None:
    assert await store.status("nope") is None
    await store.create(SessionRecord(id="st", teacher_id="t"))
    assert await store.status("st") == "active"
    await store.end("st")
    assert await store.status("st") == "ended"
