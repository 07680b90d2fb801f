"""Interaction benchmark: answer round trips with a whole class, and resume replay.

1. N students (aiortc, events over the data channel) answer one choice question
   within one second of it opening. Reported: student send -> ``answer.receipt``
   (p50/p99) and student send -> the teacher's ``answer.evaluated`` (p50/p99).
2. One student drops, ``--missed`` events are published, it reconnects with its
   resume token: time from the reconnect to the last missed event, and whether
   everything arrived in order.

    .venv/bin/python scripts/bench_interactions.py --students 200 --missed 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from typing import Any

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scripts.bench_common import SECRET, pct, start_server
from signaling.client import ClassroomClient
from signaling.tokens import mint_token


def token(user: str, role: str) -> str:
    return mint_token(SECRET, session_id="bench", user_id=user, name=user, role=role,
                      ttl_s=3600)[0]


async def join(url: str, users: list[str], role: str) -> list[ClassroomClient]:
    sem = asyncio.Semaphore(16)
    clients: list[ClassroomClient] = []

    async def one(user: str) -> None:
        async with sem:
            client = ClassroomClient(url, token(user, role), ice_host_addresses=["127.0.0.1"])
            await client.connect()
            await client.wait_datachannel(timeout=60)
            clients.append(client)

    await asyncio.gather(*(one(u) for u in users))
    return clients


async def answers(url: str, n: int) -> dict[str, Any]:
    (teacher,) = await join(url, ["teacher"], "teacher")
    students = await join(url, [f"s{i}" for i in range(n)], "student")
    sent_at: dict[str, float] = {}  # answer_id -> send time
    receipt_ms: list[float] = []
    evaluated_ms: list[float] = []
    evaluated_at: dict[str, float] = {}
    done = asyncio.Event()

    def on_evaluated(event: dict[str, Any]) -> None:
        evaluated_at[event["payload"]["answer_id"]] = time.perf_counter()
        if len(evaluated_at) >= n:
            done.set()

    teacher.on("answer.evaluated", on_evaluated)
    ask = await teacher.request({"type": "question.ask", "text": "2 + 2?",
                                 "choices": ["3", "4", "5"], "correct": 1,
                                 "time_limit_s": 60})
    qid = ask["question"]["id"]

    async def answer(student: ClassroomClient) -> None:
        await asyncio.sleep(random.uniform(0, 1.0))  # everyone within one second
        start = time.perf_counter()
        reply = await student.request({"type": "answer.submit", "question_id": qid,
                                       "choice": random.choice([0, 1, 2])}, timeout=30)
        receipt_ms.append((time.perf_counter() - start) * 1000)
        sent_at[reply["answer_id"]] = start

    await asyncio.gather(*(answer(s) for s in students))
    try:
        await asyncio.wait_for(done.wait(), 30)
    except TimeoutError:
        pass
    for answer_id, start in sent_at.items():
        if answer_id in evaluated_at:
            evaluated_ms.append((evaluated_at[answer_id] - start) * 1000)
    await asyncio.gather(*(c.close() for c in [teacher, *students]), return_exceptions=True)
    return {"students": n, "receipt_ms_p50": pct(receipt_ms, 50),
            "receipt_ms_p99": pct(receipt_ms, 99), "evaluated_ms_p50": pct(evaluated_ms, 50),
            "evaluated_ms_p99": pct(evaluated_ms, 99), "receipts": len(receipt_ms),
            "evaluations_seen_by_teacher": len(evaluated_ms)}


async def replay(url: str, missed: int, transport: str) -> dict[str, Any]:
    client = ClassroomClient(url, token(f"r-{transport}", "student"),
                             ice_host_addresses=["127.0.0.1"],
                             transport="websocket" if transport == "websocket" else "auto")
    await client.connect()
    if transport != "websocket":
        await client.wait_datachannel()
    await client.drop()
    headers = {"Authorization": f"Bearer {SECRET}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for i in range(missed):
            async with http.post(f"{url}/api/sessions/bench/events",
                                 json={"text": f"m{i}", "data": {"i": i}}) as resp:
                resp.raise_for_status()
    got: list[int] = []
    start = time.perf_counter()
    welcome = await client.reconnect()
    connected_ms = (time.perf_counter() - start) * 1000
    async with asyncio.timeout(60):
        while len(got) < missed:
            event = await client.next_event("message", timeout=60)
            got.append(event["payload"]["data"]["i"])
    total_ms = (time.perf_counter() - start) * 1000
    await client.close()
    return {"transport": transport, "missed": missed, "reconnect_ms": round(connected_ms, 1),
            "replay_complete_ms": round(total_ms, 1), "in_order": got == list(range(missed)),
            "replayed_by_server": welcome.get("resumed", {}).get("replayed")}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--missed", type=int, default=1000)
    parser.add_argument("--redis", action="store_true", help="server state in Redis")
    args = parser.parse_args()
    extra = ["--redis-url", "redis://127.0.0.1:6379/14", "--redis-key-prefix",
             f"bench{os.getpid()}:"] if args.redis else []
    server = await start_server("classroom", "--no-adaptive-quality", *extra)
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{server.url}/api/sessions",
                            headers={"Authorization": f"Bearer {SECRET}"},
                            json={"session_id": "bench", "teacher_id": "teacher"})
        result = {"state": "redis" if args.redis else "memory",
                  "answers": await answers(server.url, args.students),
                  "replay": [await replay(server.url, args.missed, t)
                             for t in ("datachannel", "websocket")]}
        print(json.dumps(result))
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
