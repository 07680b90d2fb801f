"""CPU per relayed stream on each side of the media relay, and the Redis hop, measured alone.

The relay's own code, without encoders or viewers around it (whose cost dominates and
varies with a shared machine's load): an *origin* process runs ``--streams`` relay taps
(:class:`rtc_server.media.relay._Tap` and ``MediaRelay._send``, the code a worker runs
per relayed rung) fed with frames of ``--frame-bytes`` at ``--fps``; an *edge* process
subscribes to them through :class:`~rtc_server.media.relayed_ladder.RemoteRung` (the
code an edge runs per relayed rung: header parsing, sequence check, delivery to a
listener). Both use the real Redis at 127.0.0.1:6379 (db 15, a key prefix of their
own). Each process counts its own CPU per one-second bucket, and whether frames flowed
in it; the origin alternates ``--window`` seconds sending and as long idle, so the
baseline (idle buckets) is measured in the same run, interleaved.

    PYTHONPATH=. .venv/bin/python scripts/bench_relay_streams.py --streams 1 4 16

Prints JSON: per stream count, origin and edge CPU (cores, active minus idle) per stream,
µs per frame, and the Redis hop (frame header's send time to the edge's arrival).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.config import Config
from rtc_server.media.encoder import VIDEO_TIME_BASE, EncodedPacket
from rtc_server.media.relay import MediaRelay, _Tap
from rtc_server.media.relayed_ladder import RelayedLadder, RemoteRung
from rtc_server.state import Storage
from scripts.bench_common import ROOT, pct

REDIS_URL = "redis://127.0.0.1:6379/15"
SCRIPT = os.path.abspath(__file__)


class _NoSessions:
    """The hub a bare relay needs: no sessions (nothing to announce or watch)."""

    sessions: dict[str, Any] = {}


class _Counter:
    def __init__(self) -> None:
        self.frames = 0

    def _deliver(self, rung: Any, packet: EncodedPacket) -> None:
        self.frames += 1


def _relay(args: argparse.Namespace, node: str) -> tuple[Storage, MediaRelay]:
    """A relay on the bytes client a server's storage gives it (the storage owns the pool)."""
    storage = Storage(Config(redis_url=REDIS_URL, redis_key_prefix=args.prefix))
    assert storage.redis_bytes is not None
    return storage, MediaRelay(storage.redis_bytes, key_prefix=args.prefix, node=node,
                               hub=_NoSessions())


async def origin(args: argparse.Namespace) -> None:
    storage, relay = _relay(args, "origin")
    await relay.start()
    taps = [_Tap(relay._keys.frames("bench", "L", f"r{i}")) for i in range(args.streams)]
    tasks = [asyncio.create_task(relay._send(tap)) for tap in taps]
    payload = os.urandom(args.frame_bytes)
    buckets = []
    interval = 1.0 / args.fps
    for _ in range(args.rounds):
        for sending in (True, False):
            ends = time.monotonic() + args.window
            while time.monotonic() < ends:
                cpu0, t0, sent0 = time.process_time(), time.monotonic(), sum(
                    t.frames_sent for t in taps)
                n = 0
                while time.monotonic() - t0 < 1.0:
                    if sending:
                        for tap in taps:
                            tap._deliver(None, EncodedPacket(  # type: ignore[arg-type]
                                payload, n * 3000, VIDEO_TIME_BASE, is_keyframe=n % 90 == 0,
                                width=1280, height=720))
                        n += 1
                    await asyncio.sleep(interval)
                buckets.append({"sending": sending,
                                "cpu_s": time.process_time() - cpu0,
                                "wall_s": time.monotonic() - t0,
                                "frames": sum(t.frames_sent for t in taps) - sent0})
    for task in tasks:
        task.cancel()
    await relay.close()
    await storage.close()
    print(json.dumps({"role": "origin", "buckets": buckets}), flush=True)


async def edge(args: argparse.Namespace) -> None:
    storage, relay = _relay(args, "edge")
    await relay.start()
    ladder = RelayedLadder("bench", {"node": "origin", "ladder": "L", "kind": "video",
                                     "width": 1280, "height": 720}, relay)
    counters = []
    rungs = []
    for i in range(args.streams):
        # One remote rung per stream (a ladder has three; more streams reuse the class).
        rung = RemoteRung(ladder, ladder.rung("low"), relay)
        rung.name = f"r{i}"
        counter = _Counter()
        rung.add(counter)
        counters.append(counter)
        rungs.append(rung)
    await asyncio.sleep(1.0)  # subscriptions confirmed
    print(json.dumps({"role": "edge", "ready": True}), flush=True)
    buckets = []
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), lambda: stop.done()
                                          or stop.set_result(None))
    while not stop.done():
        cpu0, t0 = time.process_time(), time.monotonic()
        frames0 = sum(c.frames for c in counters)
        await asyncio.wait([stop], timeout=1.0)
        buckets.append({"cpu_s": time.process_time() - cpu0, "wall_s": time.monotonic() - t0,
                        "frames": sum(c.frames for c in counters) - frames0})
    delays = [r.relay_delay_ms_total / max(1, r.frames_received) for r in rungs]
    print(json.dumps({"role": "edge", "buckets": buckets,
                      "lost": sum(r.frames_lost for r in rungs),
                      "received": sum(r.frames_received for r in rungs),
                      "hop_ms_avg": round(sum(delays) / len(delays), 2),
                      "hop_ms_max": round(max(r.relay_delay_ms_max for r in rungs), 2)}),
          flush=True)
    await relay.close()
    await storage.close()


def _cost(buckets: list[dict], active: bool, key: str = "frames") -> float | None:
    chosen = [b["cpu_s"] / b["wall_s"] for b in buckets if (b[key] > 0) == active]
    return pct(chosen, 50)


async def run(streams: int, args: argparse.Namespace) -> dict:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    common = ["--prefix", prefix, "--streams", str(streams), "--fps", str(args.fps),
              "--frame-bytes", str(args.frame_bytes), "--window", str(args.window),
              "--rounds", str(args.rounds)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    me = SCRIPT
    edge_proc = await asyncio.create_subprocess_exec(
        sys.executable, me, "--role", "edge", *common, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert edge_proc.stdout is not None and edge_proc.stdin is not None
    await edge_proc.stdout.readline()  # ready
    origin_proc = await asyncio.create_subprocess_exec(
        sys.executable, me, "--role", "origin", *common, env=env,
        stdout=asyncio.subprocess.PIPE)
    origin_out, _ = await origin_proc.communicate()
    await asyncio.sleep(1.0)
    edge_proc.stdin.close()
    edge_out = json.loads((await edge_proc.stdout.readline()).decode())
    await edge_proc.wait()
    o = json.loads(origin_out.decode().strip().splitlines()[-1])
    o_active = _cost(o["buckets"], True)
    o_idle = _cost(o["buckets"], False)
    e_active = _cost(edge_out["buckets"], True)
    e_idle = _cost(edge_out["buckets"], False)
    frames_per_s = streams * args.fps

    def per_stream(active: float | None, idle: float | None) -> dict:
        if active is None or idle is None:
            return {"cores": None, "us_per_frame": None}
        cores = max(0.0, active - idle) / streams
        return {"cores": round(cores, 4), "us_per_frame": round(1e6 * cores / args.fps, 1)}

    return {"streams": streams, "frames_per_s": frames_per_s,
            "origin_cores_active_idle": [o_active, o_idle],
            "edge_cores_active_idle": [e_active, e_idle],
            "origin_per_stream": per_stream(o_active, o_idle),
            "edge_per_stream": per_stream(e_active, e_idle),
            "frames_received": edge_out["received"], "frames_lost": edge_out["lost"],
            "redis_hop_ms": {"avg": edge_out["hop_ms_avg"], "max": edge_out["hop_ms_max"]},
            "load_1min": round(os.getloadavg()[0], 2)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["origin", "edge"])
    parser.add_argument("--prefix", default="bench:")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--frame-bytes", type=int, default=6250,
                        help="bytes per frame (6,250 at 30 fps: the 1.5 Mb/s medium rung)")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.role is not None:
        args.streams = args.streams[0]
        await (origin(args) if args.role == "origin" else edge(args))
        return
    results = [await run(n, args) for n in args.streams]
    print(json.dumps({"fps": args.fps, "frame_bytes": args.frame_bytes, "runs": results},
                     indent=2))


if __name__ == "__main__":
    asyncio.run(main())
