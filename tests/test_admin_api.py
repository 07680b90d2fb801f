"""The admin overview (signaling/admin_api.py): every live process of a deployment with
its classes, a process that stops renewing drops out after its TTL, and the AI cost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from signaling.keys import SERVICES
from tests.support.server import SECRET, Harness


async def overview(server: Harness) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}/api/admin/overview",
            headers={"Authorization": f"Bearer {SECRET}"}) as resp:
        assert resp.status == 200
        return await resp.json()


def classes(body: dict[str, Any]) -> dict[str, list[str]]:
    return {w["worker"]: [s["id"] for s in w["sessions"]] for w in body["workers"]}


@pytest.mark.redis
async def test_overview_lists_every_worker_sharing_the_redis(make_server, redis_prefix) -> None:
    url, prefix = redis_prefix
    shared = {"redis_url": url, "redis_key_prefix": prefix}
    one = await make_server(worker_id="w1", **shared)
    # w2's status lives 2 s after its last renewal (15 s by default).
    two = await make_server(worker_id="w2", worker_status_ttl_s=2.0, **shared)
    three = await make_server(worker_id="w3", **shared)
    for server, session in ((one, "s1"), (two, "s2")):
        await server.classroom.create_session(session_id=session, teacher_id="t",
                                              subject=f"Class {session}")
    await one.client("teacher", "teacher", session="s1", webrtc=False)
    await two.client("ada", session="s2", webrtc=False)
    await two.client("bo", session="s2", webrtc=False)
    for server in (two, three):  # as their liveness loop does every 5 s
        await server.app[SERVICES].liveness.renew_lease()

    body = await overview(one)
    assert body["worker"] == "w1"
    assert classes(body) == {"w1": ["s1"], "w2": ["s2"], "w3": []}
    by_worker = {w["worker"]: w for w in body["workers"]}
    assert (by_worker["w2"]["connections"], by_worker["w2"]["sessions"][0]["students"]) == (2, 2)
    assert {"step", "cpu_fraction", "loop_lag_ms"} <= set(by_worker["w2"]["load"])
    sessions = {s["id"]: s for s in body["sessions"]}
    assert (sessions["s2"]["subject"], sessions["s2"]["students"], sessions["s2"]["workers"]) == (
        "Class s2", 2, ["w2"])
    assert (sessions["s1"]["teachers"], sessions["s1"]["workers"]) == (1, ["w1"])
    # The other processes see the same deployment (each lists itself first).
    assert set(classes(await overview(two))) == {"w1", "w2", "w3"}

    # w3 stops cleanly: it takes its status away at once.
    await three.server.close()
    assert set(classes(await overview(one))) == {"w1", "w2"}

    # w2 stops renewing (as a hung or killed process): gone once its TTL ran out.
    await two.app[SERVICES].liveness.stop()
    deadline = time.monotonic() + 20
    while "w2" in classes(body := await overview(one)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert classes(body) == {"w1": ["s1"]}
    assert [s["id"] for s in body["sessions"]] == ["s1"]


async def test_overview_counts_ai_tokens_and_their_cost_only_with_prices(make_server) -> None:
    priced = await make_server(ai_price_input_per_1k_tokens=0.5,
                               ai_price_output_per_1k_tokens=2.0, ai_price_currency="EUR")
    unpriced = await make_server()
    for server in (priced, unpriced):
        stats = server.app[SERVICES].features.get("content").service.stats
        stats.prompt_tokens, stats.completion_tokens = 3000, 500

    ai = (await overview(priced))["ai"]
    assert (ai["prompt_tokens"], ai["completion_tokens"]) == (3000, 500)
    assert (ai["cost"], ai["currency"]) == (pytest.approx(2.5), "EUR")  # 3 x 0.5 + 0.5 x 2
    ai = (await overview(unpriced))["ai"]
    assert (ai["prompt_tokens"], ai["completion_tokens"]) == (3000, 500)
    assert (ai["cost"], ai["currency"], ai["price_per_1k_tokens"]) == (None, None, None)


async def test_one_price_stands_for_both(make_server) -> None:
    server = await make_server(ai_price_output_per_1k_tokens=1.0)
    stats = server.app[SERVICES].features.get("content").service.stats
    stats.prompt_tokens, stats.completion_tokens = 1000, 1000
    ai = (await overview(server))["ai"]
    assert ai["price_per_1k_tokens"] == {"input": 1.0, "output": 1.0}
    assert ai["cost"] == pytest.approx(2.0)
