"""Content fan-out benchmark: generated lessons streaming to N students over data channels.

The server runs in a subprocess (as ``bench_common`` starts it) with the local composer
as the provider; N aiortc students and one teacher run in this process. For each
configuration (provider pace x chunk coalescing) the teacher requests ``--lessons``
lessons one after another for the whole class, and every student records when each
``content.chunk`` arrived. All configurations run in the same invocation.

What is measured (server and clients share this machine's clock):

* ``delivery_ms``: per (chunk, student), student receipt - the envelope's ``ts``
  (server wall clock when the event was sequenced, whole milliseconds, so figures
  carry up to +1 ms of truncation). Fan-out, SCTP/DTLS and client parsing.
* ``coalesce_wait_ms`` (estimated): per token, how long it sat in the coalescer
  before its chunk was published. Tokens of a chunk arrived evenly at the
  generation's measured rate R (tokens / (done.ts - started.ts)). A chunk that
  ends at a natural boundary (or the size limit, or the end) was flushed when its
  last token arrived: token k of n waited (n-1-k)/R, capped at the budget. Any
  other chunk was flushed by the deadline: its first token waited the whole
  budget, token k waited budget - k/R. Zero with coalescing off (a chunk per
  token). Cross-check: the server's own mean below.
* ``token_to_student_ms``: per (token, student), coalesce_wait + delivery: the
  server's overhead from a provider token to its receipt by a student.
* ``server_token_to_publish_ms_mean/max``: the server's own figure (``/metrics``,
  ``classroom_content_overhead_ms_*``): provider arrival -> return of the publish
  call, which includes queueing the event for all N connections.
* ``server_cpu_us_per_token_student``: server process CPU during the generations
  (minus its idle rate) / (tokens x students that received them).

Clients live in one process on the same cores as the server, so the client side's
own queueing is part of ``delivery_ms``; the JSON says how busy this process was.

    .venv/bin/python scripts/bench_content_fanout.py --students 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.content.chunker import DEFAULT_MAX_CHARS
from rtc_server.content.local_provider import word_pieces
from scripts.bench_common import SECRET, ServerProcess, pct, start_server
from signaling.client import ClassroomClient
from signaling.tokens import mint_token

JOIN_CONCURRENCY = 16
SESSION = "bench"
TOPICS = ["volcanoes", "fractions", "magnetism", "the water cycle", "cells", "ecosystems",
          "electric circuits", "photosynthesis", "linear equations", "poetry and metaphor",
          "area and perimeter", "the French revolution"]
FINAL = ("content.done", "content.stopped", "content.failed")
# A chunk that ends here was flushed by a natural boundary (rtc_server.content.chunker).
_LAST_BOUNDARY = re.compile(r"(\n|[.!?])$")


@dataclass
class Generation:
    started_ts: int = 0
    done_ts: int = 0
    tokens: int = 0
    outcome: str = ""
    chunks: dict[int, tuple[int, str]] = field(default_factory=dict)  # index -> (ts, text)
    receipts: dict[int, list[float]] = field(default_factory=dict)  # index -> delivery ms
    finished_by: int = 0


class Recorder:
    """Per-generation chunk texts and per-student receipts, fed by client callbacks."""

    def __init__(self, students: int) -> None:
        self.students = students
        self.generations: dict[str, Generation] = {}
        self.finished: dict[str, asyncio.Event] = {}

    def gen(self, gid: str) -> Generation:
        if gid not in self.generations:
            self.generations[gid] = Generation()
            self.finished.setdefault(gid, asyncio.Event())
        return self.generations[gid]

    def on_event(self, env: dict[str, Any]) -> None:
        now_ms = time.time() * 1000
        etype = env["type"]
        p = env["payload"]
        if etype == "content.chunk":
            g = self.gen(p["generation_id"])
            g.chunks.setdefault(p["index"], (env["ts"], p["text"]))
            g.receipts.setdefault(p["index"], []).append(now_ms - env["ts"])
        elif etype == "content.started":
            self.gen(p["generation_id"]).started_ts = env["ts"]
        elif etype in FINAL:
            g = self.gen(p["generation_id"])
            g.done_ts, g.outcome = env["ts"], etype.removeprefix("content.")
            g.tokens = p.get("tokens") or 0
            g.finished_by += 1
            if g.finished_by >= self.students:
                self.finished[p["generation_id"]].set()


def coalesce_waits(g: Generation, budget_ms: float) -> dict[int, list[float]]:
    """Estimated wait of each token of each chunk in the coalescer (see the docstring)."""
    span_ms = max(1.0, g.done_ts - g.started_ts)
    interval_ms = span_ms / max(1, g.tokens)
    last = max(g.chunks, default=-1)
    waits: dict[int, list[float]] = {}
    for index, (_, text) in g.chunks.items():
        n = len(word_pieces(text)) or 1
        if budget_ms <= 0:
            waits[index] = [0.0] * n
        elif _LAST_BOUNDARY.search(text) or len(text) >= DEFAULT_MAX_CHARS or index == last:
            # Flushed when its last token arrived (boundary, size, end of stream).
            waits[index] = [min(budget_ms, (n - 1 - k) * interval_ms) for k in range(n)]
        else:
            # Flushed by the deadline: the first token waited the whole budget.
            waits[index] = [max(0.0, budget_ms - k * interval_ms) for k in range(n)]
    return waits


async def join(server: ServerProcess, n: int) -> tuple[list[ClassroomClient], list[float]]:
    clients: list[ClassroomClient] = []
    join_ms: list[float] = []
    sem = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one(i: int) -> None:
        token = mint_token(SECRET, session_id=SESSION, user_id=f"s{i}", name=f"s{i}",
                           role="student", ttl_s=3600)[0]
        async with sem:
            start = time.perf_counter()
            # Callbacks only: no event queue (signaling/client.py).
            client = ClassroomClient(server.url, token, ice_host_addresses=["127.0.0.1"],
                                     max_queued=0)
            clients.append(client)
            await client.connect()
            await client.wait_datachannel(timeout=60)
            join_ms.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    return clients, join_ms


async def server_metrics(http: aiohttp.ClientSession, server: ServerProcess) -> dict[str, float]:
    async with http.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    out = {}
    for name in ("overhead_ms_sum", "overhead_count", "overhead_ms_max", "tokens_received",
                 "chunks_published"):
        m = re.search(rf"^classroom_content_{name}\s+(\S+)$", text, re.M)
        out[name] = float(m.group(1)) if m else float("nan")
    return out


def process_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


async def run_one(n: int, tokens_per_s: float, delay_ms: float, lessons: int,
                  max_tokens: int, budget_s: float) -> dict[str, Any]:
    server = await start_server("classroom", "--content-provider", "local",
                                "--local-tokens-per-s", str(tokens_per_s),
                                "--content-chunk-max-delay-ms", str(delay_ms))
    clients: list[ClassroomClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{server.url}/api/sessions",
                            headers={"Authorization": f"Bearer {SECRET}"},
                            json={"session_id": SESSION, "teacher_id": "t",
                                  "subject": "Science", "grade_level": "7"})
            join_start = time.perf_counter()
            clients, join_ms = await join(server, n)
            join_s = time.perf_counter() - join_start
            teacher_token = mint_token(SECRET, session_id=SESSION, user_id="t", name="T",
                                       role="teacher", ttl_s=3600)[0]
            teacher = ClassroomClient(server.url, teacher_token, webrtc=False)
            await teacher.connect()
            clients.append(teacher)
            recorder = Recorder(n)
            for client in clients[:n]:
                for etype in ("content.started", "content.chunk", *FINAL):
                    client.on(etype, recorder.on_event)
            await asyncio.sleep(1.0)
            idle_cpu0, idle_t0 = server.cpu_s(), time.perf_counter()
            await asyncio.sleep(2.0)
            idle_rate = (server.cpu_s() - idle_cpu0) / (time.perf_counter() - idle_t0)
            m0 = await server_metrics(http, server)
            cpu0, mine0, t0 = server.cpu_s(), process_cpu_s(), time.perf_counter()
            timed_out = 0
            for i in range(lessons):
                topic = TOPICS[i % len(TOPICS)]
                reply = await teacher.request({"type": "content.request", "request": {
                    "kind": "lesson", "topic": topic, "max_tokens": max_tokens,
                    # A distinct prompt per lesson and run keeps the cache out of it.
                    "prompt": f"Explain {topic} ({time.time_ns()})"}})
                gid = reply["generation_id"]
                recorder.finished.setdefault(gid, asyncio.Event())
                try:
                    await asyncio.wait_for(recorder.finished[gid].wait(), budget_s)
                except TimeoutError:
                    timed_out += 1
            busy_s = time.perf_counter() - t0
            cpu = server.cpu_s() - cpu0
            bench_cpu = process_cpu_s() - mine0
            m1 = await server_metrics(http, server)
        # -- figures ----------------------------------------------------------------------
        delivery: list[float] = []
        end_to_end: list[float] = []
        waits_all: list[float] = []
        tokens = chunks = token_deliveries = 0
        for g in recorder.generations.values():
            waits = coalesce_waits(g, delay_ms)
            tokens += g.tokens
            chunks += len(g.chunks)
            token_deliveries += g.tokens * g.finished_by
            for index, received in g.receipts.items():
                delivery.extend(received)
                waits_all.extend(waits[index])
                for w in waits[index]:
                    end_to_end.extend(w + d for d in received)
        overhead_count = m1["overhead_count"] - m0["overhead_count"]
        active_cpu = max(0.0, cpu - idle_rate * busy_s)
        return {
            "students": n, "provider_tokens_per_s": tokens_per_s or "full speed",
            "coalescing_ms": delay_ms, "lessons": lessons, "timed_out": timed_out,
            "outcomes": sorted({g.outcome for g in recorder.generations.values()}),
            "tokens": tokens, "chunks": chunks,
            "tokens_per_chunk": round(tokens / chunks, 2) if chunks else None,
            "chunk_deliveries": len(delivery),
            "expected_chunk_deliveries": chunks * n,
            "join_s": round(join_s, 1), "join_ms_p50": pct(join_ms, 50),
            "delivery_ms_p50": pct(delivery, 50), "delivery_ms_p99": pct(delivery, 99),
            "coalesce_wait_ms_p50_est": pct(waits_all, 50),
            "coalesce_wait_ms_p99_est": pct(waits_all, 99),
            "coalesce_wait_ms_mean_est": round(sum(waits_all) / len(waits_all), 3)
            if waits_all else None,
            "token_to_student_ms_p50": pct(end_to_end, 50),
            "token_to_student_ms_p99": pct(end_to_end, 99),
            "token_to_student_ms_max": pct(end_to_end, 100),
            "server_token_to_publish_ms_mean": round(
                (m1["overhead_ms_sum"] - m0["overhead_ms_sum"]) / overhead_count, 3)
            if overhead_count else None,
            "server_token_to_publish_ms_max_all_runs": m1["overhead_ms_max"],
            "run_s": round(busy_s, 2),
            "server_cpu_s": round(cpu, 3),
            "server_cpu_busy_fraction": round(cpu / busy_s, 3),
            "server_cpu_us_per_token_student": round(
                active_cpu / token_deliveries * 1e6, 3) if token_deliveries else None,
            "bench_process_cpu_busy_fraction": round(bench_cpu / busy_s, 3),
            "server_rss_mb": round(server.rss_mb(), 1),
        }
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--paced-tps", type=float, default=50.0,
                        help="provider pace of the paced runs (a model's speed)")
    parser.add_argument("--paced-lessons", type=int, default=3)
    parser.add_argument("--full-lessons", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=200, help="tokens per lesson at most")
    parser.add_argument("--coalescing-ms", type=float, default=40.0)
    parser.add_argument("--run-timeout-s", type=float, default=300.0,
                        help="bound on each configuration (start, join, lessons)")
    args = parser.parse_args()
    configs = [(args.paced_tps, args.paced_lessons), (0.0, args.full_lessons)]
    results = []
    for tps, lessons in configs:
        for delay in (args.coalescing_ms, 0.0):
            # A lesson may take max_tokens / pace seconds, plus fan-out backlog.
            budget_s = (args.max_tokens / tps if tps else 0) + 60
            try:
                result = await asyncio.wait_for(
                    run_one(args.students, tps, delay, lessons, args.max_tokens, budget_s),
                    args.run_timeout_s)
            except TimeoutError:
                result = {"students": args.students, "provider_tokens_per_s": tps or "full speed",
                          "coalescing_ms": delay, "error": f"over {args.run_timeout_s} s"}
            print(json.dumps(result), flush=True)
            results.append(result)
    summary = []
    for tps, _ in configs:
        pace = tps or "full speed"
        by = {r["coalescing_ms"]: r for r in results if r["provider_tokens_per_s"] == pace
              and "error" not in r}
        on, off = by.get(args.coalescing_ms), by.get(0.0)
        if not (on and off):
            continue

        def ratio(key: str, on: dict[str, Any] = on, off: dict[str, Any] = off) -> float | None:
            return round(on[key] / off[key], 3) if on.get(key) and off.get(key) else None

        summary.append({"provider_tokens_per_s": pace, "ratios_on_vs_off": {
            key: ratio(key) for key in ("chunks", "chunk_deliveries", "delivery_ms_p50",
                                        "delivery_ms_p99", "token_to_student_ms_p50",
                                        "token_to_student_ms_p99",
                                        "server_cpu_us_per_token_student")}})
    print(json.dumps({"summary": summary}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
