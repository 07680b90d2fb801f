"""What the media relay costs: CPU on the origin and the edge per relayed stream, and latency.

Two server processes on one Redis (db 15, a key prefix of their own, deleted after): ``A``
holds the publisher (a synthetic 1280x720@30 teacher camera with its burned-in capture
time), ``B`` is an edge. Viewers (headless clients that count frames, all on the medium
rung) are added step by step and each step is measured for ``--window`` seconds:

    publisher   no viewer (A reads and decodes the source; no rung encodes)
    a1          one viewer on A (the rung encodes; one sender)
    a2          a second viewer on A: the baseline cost of one more local viewer
    b1          a viewer on B: the rung is relayed (A: the tap; B: receiving + one sender)
    b2          a second viewer on B: one more viewer on the edge

So the relayed stream's cost is ``b1 - a2`` on each process, to compare with one more
local viewer (``a2 - a1`` on A) in the same run. Latency: glass-to-glass samples
(the synthetic source's burned-in time, read from keyframes) of a viewer on A and a
viewer on B, alternated, and the Redis hop itself as the edge measures it (send time in
the frame header to arrival, every frame).

    PYTHONPATH=. .venv/bin/python scripts/bench_relay.py --window 20 --samples 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid

import aiohttp
import redis.asyncio

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.media import SyntheticVideoTrack
from scripts.bench_common import ROOT, SECRET, ServerProcess, free_port, pct, wait_ready
from signaling.client import ClassroomClient
from signaling.tokens import mint_token

REDIS_URL = "redis://127.0.0.1:6379/15"


def token(user: str, role: str = "student") -> str:
    return mint_token(SECRET, session_id="relay", user_id=user, name=user, role=role,
                      ttl_s=3600)[0]


async def start(node: str, prefix: str) -> ServerProcess:
    port = free_port()
    cmd = [sys.executable, "-m", "rtc_server", "--port", str(port), "--api-secret", SECRET,
           "--ice-host-addresses", "127.0.0.1", "--log-level", "warning",
           "--redis-url", REDIS_URL, "--redis-key-prefix", prefix, "--node-name", node,
           "--no-load-shedding", "--no-adaptive-quality"]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=ROOT),  # noqa: ASYNC220
                            stdout=subprocess.DEVNULL)
    return await wait_ready(ServerProcess(proc, port), node)


async def media_state(server: ServerProcess) -> dict:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
        async with http.get(f"{server.url}/api/sessions/relay/media") as resp:
            return await resp.json()


async def measure(servers: dict[str, ServerProcess], viewers: list[ClassroomClient],
                  window_s: float) -> dict:
    before = {name: s.cpu_s() for name, s in servers.items()}
    frames = [v.counters["video"].frames for v in viewers]
    started = time.monotonic()
    await asyncio.sleep(window_s)
    elapsed = time.monotonic() - started
    return {
        "cores": {name: round((s.cpu_s() - before[name]) / elapsed, 3)
                  for name, s in servers.items()},
        "viewer_fps": [round((v.counters["video"].frames - f) / elapsed, 1)
                       for v, f in zip(viewers, frames, strict=True)],
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=20.0, help="seconds per step")
    parser.add_argument("--samples", type=int, default=8, help="latency samples per viewer")
    parser.add_argument("--size", default="1280x720@30")
    args = parser.parse_args()
    size, _, fps = args.size.partition("@")
    width, height = (int(v) for v in size.split("x"))
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    servers = {"A": await start("A", prefix), "B": await start("B", prefix)}
    clients: list[ClassroomClient] = []
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
            async with http.post(f"{servers['A'].url}/api/sessions",
                                 json={"session_id": "relay", "teacher_id": "teacher"}) as resp:
                assert resp.status == 201, await resp.text()

        async def join(server: str, user: str, **kwargs) -> ClassroomClient:
            client = ClassroomClient(servers[server].url, token(user, kwargs.pop("role",
                                                                                "student")),
                                     ice_host_addresses=["127.0.0.1"], **kwargs)
            await client.connect()
            clients.append(client)
            return client

        await join("A", "teacher", role="teacher",
                   publish=[SyntheticVideoTrack(width, height, float(fps or 30))])
        await asyncio.sleep(3)
        steps: dict[str, dict] = {}
        viewers: list[ClassroomClient] = []
        steps["publisher"] = await measure(servers, viewers, args.window)
        for name in ("a1", "a2", "b1", "b2"):
            viewer = await join(name[0].upper(), name, media=True)
            await viewer.counters["video"].wait_frames(10, timeout_s=60)
            viewers.append(viewer)
            print(f"step {name}…", file=sys.stderr)
            steps[name] = await measure(servers, viewers, args.window)

        g2g: dict[str, list[int]] = {"A": [], "B": []}
        local, edge = viewers[0], viewers[2]
        for _ in range(args.samples):
            for where, viewer in (("A", local), ("B", edge)):
                sample = await viewer.counters["video"].sample(timeout_s=15)
                if sample is not None:
                    g2g[where].append(sample.latency_ms)
        state_b = await media_state(servers["B"])
        state_a = await media_state(servers["A"])
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        for server in servers.values():
            server.stop()
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()

    def delta(later: str, earlier: str, server: str) -> float:
        return round(steps[later]["cores"][server] - steps[earlier]["cores"][server], 3)

    relayed = next(ladder for ladder in state_b["ladders"] if ladder["kind"] == "video")
    medium = relayed["rungs"]["medium"]
    print(json.dumps({
        "source": args.size, "rung": "medium", "window_s": args.window,
        "steps": steps,
        "cost_cores": {
            "one_more_local_viewer_on_origin": delta("a2", "a1", "A"),
            "relayed_stream_on_origin": delta("b1", "a2", "A"),
            "relayed_stream_plus_first_viewer_on_edge": delta("b1", "a2", "B"),
            "one_more_viewer_on_edge": delta("b2", "b1", "B"),
        },
        "glass_to_glass_ms": {
            where: {"n": len(v), "p50": pct(v, 50), "max": max(v) if v else None}
            for where, v in g2g.items()},
        "extra_latency_ms_p50": (round(pct(g2g["B"], 50) - pct(g2g["A"], 50), 1)
                                 if g2g["A"] and g2g["B"] else None),
        "redis_hop_ms": {"avg": medium["relay_delay_ms_avg"], "max": medium["relay_delay_ms_max"],
                         "frames": medium["frames_received"], "lost": medium["frames_lost"]},
        "workers": state_a.get("workers"),
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
