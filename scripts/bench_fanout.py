"""Fan-out benchmark: N client peers (in this process) and a server (in another).

For each N it runs, in the same run and on the same machine:
  * classroom-rtc, events over the data channel,
  * classroom-rtc, events over the WebSocket (clients forced to it),
  * plain aiortc (scripts/baseline_plain_aiortc.py: one serialise + send per peer).
A teacher-side HTTP call broadcasts ``--rate`` messages a second for ``--duration``
seconds; every client records the delay from the send time in the payload.
Prints one JSON object per configuration, then a summary with ratios.

    .venv/bin/python scripts/bench_fanout.py --peers 50 200 500 --rate 10 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.dirname(
    __import__("os").path.abspath(__file__))))

from scripts.bench_common import SECRET, ServerProcess, pct, start_server
from signaling.client import ClassroomClient
from signaling.tokens import mint_token

JOIN_CONCURRENCY = 16


async def join_all(server: ServerProcess, n: int, transport: str) -> tuple[list, list[float]]:
    clients: list[ClassroomClient] = []
    join_ms: list[float] = []
    sem = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one(i: int) -> None:
        token = mint_token(SECRET, session_id="bench", user_id=f"s{i}", name=f"s{i}",
                           role="student", ttl_s=3600)[0]
        async with sem:
            start = time.perf_counter()
            client = ClassroomClient(server.url, token, ice_host_addresses=["127.0.0.1"],
                                     transport="websocket" if transport == "websocket" else "auto",
                                     webrtc=transport != "websocket",
                                     max_queued=0)  # callbacks only: no event queue
            await client.connect()
            if transport != "websocket":
                await client.wait_datachannel(timeout=60)
            join_ms.append((time.perf_counter() - start) * 1000)
            clients.append(client)

    await asyncio.gather(*(one(i) for i in range(n)))
    return clients, join_ms


async def run_one(kind: str, transport: str, n: int, rate: float, duration: float) -> dict[str, Any]:
    server = await start_server(kind)
    clients: list[ClassroomClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {SECRET}"}
            if kind == "classroom":
                await http.post(f"{server.url}/api/sessions", headers=headers,
                                json={"session_id": "bench", "teacher_id": "t"})
            clients, join_ms = await join_all(server, n, transport)
            latencies: list[float] = []
            received = [0]

            def on_message(event: dict[str, Any]) -> None:
                data = event["payload"].get("data") or {}
                if "t" in data:
                    latencies.append((time.time() - data["t"]) * 1000)
                    received[0] += 1

            for client in clients:
                client.on("message", on_message)
            await asyncio.sleep(1.0)
            idle_start, idle_cpu = time.perf_counter(), server.cpu_s()
            await asyncio.sleep(2.0)
            idle_rate = (server.cpu_s() - idle_cpu) / (time.perf_counter() - idle_start)

            total = int(rate * duration)
            cpu0, t0 = server.cpu_s(), time.perf_counter()
            for i in range(total):
                due = t0 + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await http.post(f"{server.url}/api/sessions/bench/events", headers=headers,
                                json={"text": f"m{i}", "data": {"t": time.time(), "i": i}})
            expected = total * n
            deadline = time.perf_counter() + 10
            while received[0] < expected and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            busy_s = time.perf_counter() - t0
            cpu = server.cpu_s() - cpu0
            rss = server.rss_mb()
        delivered = max(1, received[0])
        return {
            "server": "classroom-rtc" if kind == "classroom" else "plain-aiortc",
            "transport": transport, "peers": n, "rate_per_s": rate, "broadcasts": total,
            "join_ms_p50": pct(join_ms, 50), "join_ms_p99": pct(join_ms, 99),
            "latency_ms_p50": pct(latencies, 50), "latency_ms_p99": pct(latencies, 99),
            "latency_ms_max": pct(latencies, 100),
            "lost": expected - received[0],
            "server_cpu_us_per_delivery": round(cpu / delivered * 1e6, 2),
            "server_cpu_us_per_delivery_minus_idle": round(
                max(0.0, cpu - idle_rate * busy_s) / delivered * 1e6, 2),
            "server_cpu_busy_fraction": round(cpu / busy_s, 3),
            "server_rss_mb": round(rss, 1),
        }
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", type=int, nargs="+", default=[50])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--only", choices=["datachannel", "websocket", "plain"], nargs="*")
    args = parser.parse_args()
    configs = [("classroom", "datachannel"), ("classroom", "websocket"), ("plain", "datachannel")]
    if args.only:
        configs = [c for c in configs if (c[1] if c[0] == "classroom" else "plain") in args.only]
    results = []
    for n in args.peers:
        for kind, transport in configs:
            result = await run_one(kind, transport, n, args.rate, args.duration)
            print(json.dumps(result), flush=True)
            results.append(result)
    summary = []
    for n in args.peers:
        by = {(r["server"], r["transport"]): r for r in results if r["peers"] == n}
        ours, plain = by.get(("classroom-rtc", "datachannel")), by.get(("plain-aiortc",
                                                                          "datachannel"))
        if ours and plain:
            summary.append({"peers": n, "cpu_per_delivery_ratio_vs_plain": round(
                ours["server_cpu_us_per_delivery"] / plain["server_cpu_us_per_delivery"], 3),
                "p99_ratio_vs_plain": round(ours["latency_ms_p99"] / plain["latency_ms_p99"], 3)
                if ours["latency_ms_p99"] and plain["latency_ms_p99"] else None})
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    asyncio.run(main())
