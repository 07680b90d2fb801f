"""One class over one server process vs. ``--workers N``, measured with ``classroom-rtc loadtest``.

For each video share, the same load test runs against ``classroom-rtc`` with one process
(the baseline, measured in the same run) and with ``--workers N``, both on the same Redis
(db 15, a key prefix of their own, deleted afterwards), and prints every report plus the
ratios (workers / baseline) as JSON.

    PYTHONPATH=. .venv/bin/python scripts/bench_workers.py --students 300 \\
        --video-share 0 0.1 --rate 10 --duration 30 --processes 2

Video students watch a synthetic 1280x720@30 source published over WHIP; with workers,
the students on the other workers get it through the media relay (the report's
``video.receiving`` counts who got video). ``--content`` streams an AI lesson (the local
provider) to the class instead of, or besides, the teacher's broadcasts (``--rate 0``:
none); its report has the chunk latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import uuid

import aiohttp
import redis.asyncio

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scripts.bench_common import ROOT, SECRET, free_port

REDIS_URL = "redis://127.0.0.1:6379/15"


async def serve(workers: int, prefix: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "rtc_server", "--port", str(port), "--api-secret", SECRET,
           "--ice-host-addresses", "127.0.0.1", "--redis-url", REDIS_URL,
           "--redis-key-prefix", prefix, "--log-level", "warning", "--workers", str(workers)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
                                                env=dict(os.environ, PYTHONPATH=ROOT))
    url = f"http://127.0.0.1:{port}"
    seen: set[str] = set()
    wanted = {str(n) for n in range(1, workers + 1)} if workers > 1 else {"0"}
    async with asyncio.timeout(90):
        while not wanted <= seen:
            try:
                async with (aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
                            as http, http.get(f"{url}/healthz") as resp):
                    seen.add((await resp.json())["worker"])
            except aiohttp.ClientError:
                await asyncio.sleep(0.3)
    return proc, url


async def stop(proc: asyncio.subprocess.Process, prefix: str) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def loadtest(url: str, args: argparse.Namespace, video_share: float) -> dict:
    cmd = [sys.executable, "-m", "rtc_server", "loadtest", "--url", url, "--api-secret", SECRET,
           "--session", f"bench-{uuid.uuid4().hex[:6]}", "--students", str(args.students),
           "--video-share", str(video_share), "--rate", str(args.rate),
           "--duration", str(args.duration), "--processes", str(args.processes),
           "--ramp", str(args.ramp), "--json"]
    if video_share > 0:
        cmd += ["--publish", "synthetic", "--publish-size", args.publish_size]
    if args.content:
        cmd += ["--content"]
    if args.datachannel_share is not None:
        cmd += ["--datachannel-share", str(args.datachannel_share)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                env=dict(os.environ, PYTHONPATH=ROOT))
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"loadtest failed ({proc.returncode})")
    return json.loads(out)


def _total_cores(report: dict) -> float | None:
    cores = [w["cpu_cores"] for w in report["server"]["workers"].values()]
    return round(sum(cores), 3) if cores and None not in cores else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--video-share", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--ramp", type=float, default=30)
    parser.add_argument("--publish-size", default="1280x720@30")
    parser.add_argument("--content", action="store_true", help="stream an AI lesson")
    parser.add_argument("--datachannel-share", type=float, default=None)
    args = parser.parse_args()
    runs = []
    for share in args.video_share:
        pair = {}
        for workers in (1, args.workers):
            prefix = f"bench:{uuid.uuid4().hex[:8]}:"
            proc, url = await serve(workers, prefix)
            try:
                print(f"video share {share}, workers {workers}: running…", file=sys.stderr)
                load_before = os.getloadavg()[0]
                pair[workers] = await loadtest(url, args, share)
                # Other work on the machine shows here (cores are shared).
                pair[workers]["machine_load_1min"] = [round(load_before, 2),
                                                      round(os.getloadavg()[0], 2)]
            finally:
                await stop(proc, prefix)
        base, multi = pair[1], pair[args.workers]
        runs.append({
            "video_share": share, "baseline_1_process": base, f"workers_{args.workers}": multi,
            "ratios_workers_to_baseline": {
                "join_p99": _ratio(multi["joins"]["p99_ms"], base["joins"]["p99_ms"]),
                "delivery_p99": _ratio(multi["events"]["latency_ms"]["p99_ms"],
                                       base["events"]["latency_ms"]["p99_ms"]),
                "server_cores": _ratio(_total_cores(multi), _total_cores(base)),
            },
        })
    print(json.dumps({"students": args.students, "rate": args.rate, "duration_s": args.duration,
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
