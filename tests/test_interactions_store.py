"""InteractionStore behaviour, the same tests for the memory and the Redis store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from rtc_server.interactions import (
    Answer,
    HelpRequest,
    InteractionStore,
    MemoryInteractionStore,
    Poll,
    Question,
    RedisInteractionStore,
)
from rtc_server.interactions.store import INTERACTION_TTL_S
from tests.support.redis_util import (
    delete_prefix,
    prefixed_keys,
    redis_client,
    require_redis,
    unique_prefix,
)


@pytest.fixture
async def redis_ix() -> AsyncIterator[tuple[RedisInteractionStore, str, str]]:
    url = require_redis()
    prefix = unique_prefix()
    client = redis_client(url)
    store = RedisInteractionStore(client, key_prefix=prefix)
    try:
        yield store, url, prefix
    finally:
        await store.close()
        await client.aclose()
        await delete_prefix(url, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> InteractionStore:
    if request.param == "memory":
        return MemoryInteractionStore()
    return request.getfixturevalue("redis_ix")[0]


def question(qid: str = "q1", closes_at_ms: int | None = None) -> Question:
    return Question(id=qid, text="Pick", kind="choice", choices=("a", "b"), correct=0,
                    opened_at_ms=1000, closes_at_ms=closes_at_ms, asked_by="t",
                    time_limit_s=None if closes_at_ms is None else 10)


def answer(n: int, user: str = "ann", qid: str = "q1") -> Answer:
    return Answer(id=f"a{n}", question_id=qid, user_id=user, name=user, choice=n % 2,
                  client_id=f"c{n}", submitted_at_ms=2000 + n)


async def test_one_answer_per_student_under_concurrent_submits(store: InteractionStore):
    await store.add_question("s1", question())
    results = await asyncio.gather(*(store.submit_answer("s1", answer(n), now_ms=3000)
                                     for n in range(20)))
    stored = [r for r in results if r.status == "stored"]
    assert len(stored) == 1
    first = stored[0].answer
    assert all(r.status == "duplicate" and r.answer == first for r in results
               if r.status != "stored")
    assert await store.answers("s1", "q1") == [first]
    assert await store.answers_of("s1", "ann") == [first]


async def test_answers_refused_when_unknown_closed_or_late(store: InteractionStore):
    assert (await store.submit_answer("s1", answer(1), now_ms=0)).status == "unknown"
    await store.add_question("s1", question("q1", closes_at_ms=5000))
    assert (await store.submit_answer("s1", answer(1), now_ms=5001)).status == "late"
    assert (await store.submit_answer("s1", answer(2, "bob"), now_ms=4999)).status == "stored"
    closed = await asyncio.gather(*(store.close_question("s1", "q1", reason="teacher",
                                                         now_ms=4000) for _ in range(5)))
    winners = [q for q in closed if q is not None]
    assert len(winners) == 1 and winners[0].status == "closed"
    assert winners[0].close_reason == "teacher" and winners[0].closed_at_ms == 4000
    assert (await store.submit_answer("s1", answer(3, "cat"), now_ms=4001)).status == "closed"
    got = await store.get_question("s1", "q1")
    assert got is not None and got.status == "closed" and got.choices == ("a", "b")
    assert [q.id for q in await store.questions("s1")] == ["q1"]


async def test_board_seq_unique_under_concurrency_and_resend_deduplicated(
    store: InteractionStore,
):
    op = {"kind": "delete", "item_id": "x"}
    results = await asyncio.gather(*(store.append_board_op("s1", by=f"u{n % 3}",
                                                           client_id=f"m{n}", op=op, now_ms=n)
                                     for n in range(50)))
    seqs = sorted(entry.seq for entry, fresh in results)
    assert seqs == list(range(1, 51)) and all(fresh for _, fresh in results)
    again, fresh = await store.append_board_op("s1", by="u1", client_id="m4", op=op, now_ms=99)
    assert not fresh and again == next(e for e, _ in results if e.client_id == "m4")
    ops = await store.board_ops("s1")
    assert [e.seq for e in ops] == list(range(1, 51))
    assert [e.seq for e in await store.board_ops("s1", 45)] == [46, 47, 48, 49, 50]
    with pytest.raises(Exception, match="board is full"):
        await store.append_board_op("s1", by="u", client_id="new", op=op, now_ms=1, max_ops=50)
    assert await store.board_students("s1") is False
    await store.set_board_students("s1", True)
    assert await store.board_students("s1") is True


async def test_votes_change_until_close(store: InteractionStore):
    poll = Poll(id="p1", question="?", options=("x", "y", "z"), opened_at_ms=1, opened_by="t")
    await store.add_poll("s1", poll)
    assert (await store.vote("s1", "p1", "ann", 0)).previous is None
    assert (await store.vote("s1", "p1", "ann", 2)).previous == 0
    await store.vote("s1", "p1", "bob", 2)
    assert await store.votes("s1", "p1") == {"ann": 2, "bob": 2}
    closed = await store.close_poll("s1", "p1", now_ms=50)
    assert closed is not None and closed.status == "closed" and closed.closed_at_ms == 50
    assert await store.close_poll("s1", "p1", now_ms=51) is None
    assert (await store.vote("s1", "p1", "cat", 1)).status == "closed"
    assert (await store.vote("s1", "nope", "cat", 1)).status == "unknown"
    assert await store.votes("s1", "p1") == {"ann": 2, "bob": 2}
    assert [p.status for p in await store.polls("s1")] == ["closed"]


async def test_help_one_open_request_per_user(store: InteractionStore):
    def req(hid: str, user: str) -> HelpRequest:
        return HelpRequest(id=hid, user_id=user, name=user, kind="hand", created_at_ms=1)

    results = await asyncio.gather(*(store.add_help("s1", req(f"h{n}", "ann"))
                                     for n in range(10)))
    assert sum(added for _, added in results) == 1
    assert len({r.id for r, _ in results}) == 1
    await store.add_help("s1", req("hb", "bob"))
    assert sorted(r.user_id for r in await store.help_queue("s1")) == ["ann", "bob"]
    assert (await store.resolve_help("s1", "hb")) == req("hb", "bob")
    assert await store.resolve_help("s1", "hb") is None
    # after resolving, the user may ask again
    _, added = await store.add_help("s1", req("hb2", "bob"))
    assert added


async def test_hints_and_evaluations_roundtrip(store: InteractionStore):
    from rtc_server.interactions import Evaluation

    assert await store.get_hints("s1", "q1") is None
    await store.put_hints("s1", "q1", ["one", "two"])
    assert await store.get_hints("s1", "q1") == ["one", "two"]
    evaluation = Evaluation(answer_id="a1", question_id="q1", user_id="ann", correct=True,
                            score=1.0, feedback="ok", evaluator="x", evaluated_at_ms=5,
                            details={"matched": []})
    await store.put_evaluation("s1", evaluation)
    assert await store.evaluations("s1", "q1") == [evaluation]
    assert await store.evaluations("s1", "q2") == []


@pytest.mark.redis
async def test_redis_keys_expire_a_day_after_last_activity(redis_ix):
    store, url, prefix = redis_ix
    await store.add_question("s1", question())
    await store.submit_answer("s1", answer(1), now_ms=3000)
    await store.append_board_op("s1", by="t", client_id="m", op={"kind": "clear"}, now_ms=1)
    keys = [key async for key in prefixed_keys(url, prefix)]
    assert len(keys) >= 4 and all("{s1}" in k for k in keys)
    client = redis.asyncio.Redis.from_url(url)
    try:
        ttls = [await client.ttl(k) for k in keys]
    finally:
        await client.aclose()
    assert all(INTERACTION_TTL_S - 60 < t <= INTERACTION_TTL_S for t in ttls), ttls


@pytest.mark.redis
async def test_redis_stores_in_two_processes_agree(redis_ix):
    """Two store objects (as two server processes would have) see one state."""
    store, url, prefix = redis_ix
    other_client = redis_client(url)
    other = RedisInteractionStore(other_client, key_prefix=prefix)
    try:
        await store.add_question("s1", question())
        a, b = await asyncio.gather(store.submit_answer("s1", answer(1), now_ms=3000),
                                    other.submit_answer("s1", answer(2), now_ms=3000))
        assert sorted([a.status, b.status]) == ["duplicate", "stored"]
        assert await other.answers("s1", "q1") == await store.answers("s1", "q1")
    finally:
        await other.close()
        await other_client.aclose()
