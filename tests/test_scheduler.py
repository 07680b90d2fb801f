"""FairScheduler: global limit, per-session cap, round-robin grants."""

from __future__ import annotations

import asyncio

import pytest

from rtc_server.content import FairScheduler


async def test_per_session_cap_leaves_room_for_other_sessions() -> None:
    s = FairScheduler(2)  # per-session cap defaults to 1
    await s.acquire("A")
    waiting_a = asyncio.create_task(s.acquire("A"))
    await asyncio.sleep(0)
    assert not waiting_a.done()
    await asyncio.wait_for(s.acquire("B"), 0.1)  # B is not stuck behind A
    assert s.active == 2 and s.queued == 1
    s.release("B")
    await asyncio.sleep(0)
    assert not waiting_a.done()  # A is still at its cap
    s.release("A")
    await asyncio.wait_for(waiting_a, 0.1)
    assert s.active_for("A") == 1


async def test_grants_round_robin_across_sessions() -> None:
    s = FairScheduler(1, max_per_session=1)
    await s.acquire("X")
    order: list[str] = []

    async def job(session: str) -> None:
        async with s.slot(session):
            order.append(session)
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(job(sid)) for sid in ["A", "A", "A", "B", "C"]]
    await asyncio.sleep(0)
    s.release("X")
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    assert order == ["A", "B", "C", "A", "A"]


async def test_cancelled_waiter_is_forgotten() -> None:
    s = FairScheduler(1)
    await s.acquire("A")
    waiter = asyncio.create_task(s.acquire("B"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert s.queued == 0
    s.release("A")
    assert s.active == 0


def test_release_without_slot_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="without a slot"):
        FairScheduler(1).release("A")
