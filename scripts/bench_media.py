"""Server CPU/memory for 1 publisher and N subscribers: encode-once ladder vs plain aiortc.

Each run starts a *server* process (the synthetic 1080p source, a ladder or
plain aiortc, an HTTP endpoint taking SDP offers on 127.0.0.1) and a *clients*
process holding N subscriber peers with counting (non-decoding) receivers,
split round-robin over the rungs. Server CPU and RSS are read with psutil over
a fixed window; clients report delivered fps per rung and glass-to-glass
latency from the burned-in capture time of sampled keyframes. Prints JSON.

Plain aiortc = MediaRelay + a per-subscriber scaler + one Vp8Encoder per
sender (aiortc clamps it at 1.5 Mbps). Baseline runs stop at the first N
where the server cannot deliver 80 % of the source frame rate any more (or
at --baseline-max-n); every run is bounded by --duration plus setup timeouts.

    .venv/bin/python scripts/bench_media.py [--n 10 50 100 200] [--duration 20] [--fps 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
import av
import psutil
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.media import Ladder, SyntheticVideoTrack, add_counting_transceiver, add_rung_track
from rtc_server.media.encoding import VIDEO_RUNGS
from rtc_server.patches.ice import restrict_host_addresses

RUNG_HEIGHTS = {r.name: r.height_px for r in VIDEO_RUNGS}
SCRIPT = os.path.abspath(__file__)


# -- server process ---------------------------------------------------------


class ScaledTrack(MediaStreamTrack):
    """Plain-aiortc baseline: one relay subscription scaled for one subscriber."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, height: int) -> None:
        super().__init__()
        self.source = source
        self.height = height

    async def recv(self) -> av.VideoFrame:
        frame = await self.source.recv()
        assert isinstance(frame, av.VideoFrame)
        width = round(frame.width * self.height / frame.height) // 2 * 2
        scaled = frame.reformat(width=width, height=self.height, format="yuv420p")
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled


async def serve(mode: str, port: int, fps: float) -> None:
    restrict_host_addresses(["127.0.0.1"])
    source = SyntheticVideoTrack(1920, 1080, fps)
    ladder = Ladder(source, "video") if mode == "ladder" else None
    relay = MediaRelay() if mode == "baseline" else None
    if ladder:
        ladder.start()
    pcs: set[RTCPeerConnection] = set()

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection()
        pcs.add(pc)
        if ladder is not None:
            add_rung_track(pc, await ladder.subscribe(body["rung"]))
        else:
            assert relay is not None
            pc.addTrack(ScaledTrack(relay.subscribe(source), RUNG_HEIGHTS[body["rung"]]))
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp, "type": "answer"})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(ladder.stats() if ladder else {"peers": len(pcs)})

    app = web.Application()
    app.router.add_post("/offer", offer)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.gather(*(pc.close() for pc in pcs))


# -- clients process --------------------------------------------------------


async def run_clients(port: int, n: int, duration_s: float, warmup_s: float) -> dict[str, Any]:
    restrict_host_addresses(["127.0.0.1"])
    rungs = list(RUNG_HEIGHTS)
    peers: list[tuple[str, RTCPeerConnection, Any]] = []
    url = f"http://127.0.0.1:{port}/offer"
    async with aiohttp.ClientSession() as http:

        async def connect(i: int) -> None:
            pc = RTCPeerConnection()
            counter = add_counting_transceiver(pc, "video")
            await pc.setLocalDescription(await pc.createOffer())
            rung = rungs[i % len(rungs)]
            body = {"sdp": pc.localDescription.sdp, "type": "offer", "rung": rung}
            async with http.post(url, json=body) as resp:
                answer = await resp.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            peers.append((rung, pc, counter))

        for start in range(0, n, 10):
            await asyncio.wait_for(
                asyncio.gather(*(connect(i) for i in range(start, min(n, start + 10)))), 60
            )
        await asyncio.sleep(warmup_s)
        before = {id(c): (c.frames, c.bytes) for _, _, c in peers}
        started = time.monotonic()
        latencies: dict[str, list[int]] = {r: [] for r in rungs}

        async def sample(rung: str, pc: RTCPeerConnection, counter: Any) -> None:
            receiver = pc.getTransceivers()[0].receiver
            task = asyncio.create_task(counter.sample(timeout_s=4))
            await asyncio.sleep(0)
            for source in receiver.getSynchronizationSources():
                await receiver._send_rtcp_pli(source.source)  # ask for a keyframe now
            with contextlib.suppress(TimeoutError):
                result = await task
                if result is not None:
                    latencies[rung].append(result.latency_ms)

        while time.monotonic() - started < duration_s:
            picked = [p for i, p in enumerate(peers) if i % max(1, n // 6) == 0][:6]
            await asyncio.gather(*(sample(*p) for p in picked))
            await asyncio.sleep(1.0)
        elapsed = time.monotonic() - started
        per_rung: dict[str, Any] = {}
        for rung in rungs:
            mine = [c for r, _, c in peers if r == rung]
            if not mine:
                continue
            fps = [(c.frames - before[id(c)][0]) / elapsed for c in mine]
            kbps = [(c.bytes - before[id(c)][1]) * 8 / elapsed / 1000 for c in mine]
            lat = sorted(latencies[rung])
            per_rung[rung] = {
                "subscribers": len(mine),
                "fps_mean": round(statistics.mean(fps), 1),
                "fps_min": round(min(fps), 1),
                "kbps_mean": round(statistics.mean(kbps)),
                "frame_size": mine[0].frame_size,
                "latency_samples": len(lat),
                "latency_p50_ms": lat[len(lat) // 2] if lat else None,
                "latency_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            }
        await asyncio.gather(*(pc.close() for _, pc, _ in peers))
    return {"window_s": round(elapsed, 1), "rungs": per_rung}


# -- orchestration ----------------------------------------------------------


def one_run(mode: str, n: int, args: argparse.Namespace, port: int) -> dict[str, Any]:
    server = subprocess.Popen(
        [
            sys.executable,
            SCRIPT,
            "server",
            "--mode",
            mode,
            "--port",
            str(port),
            "--fps",
            str(args.fps),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("server did not start")
        proc = psutil.Process(server.pid)
        clients = subprocess.Popen(
            [
                sys.executable,
                SCRIPT,
                "clients",
                "--port",
                str(port),
                "--n",
                str(n),
                "--duration",
                str(args.duration),
                "--warmup",
                str(args.warmup),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        # Measure the server over the clients' measurement window (after connect+warmup).
        time.sleep(args.warmup + 2 + n * 0.02)
        cpu0, t0 = proc.cpu_times(), time.monotonic()
        time.sleep(max(1.0, args.duration - 2))
        cpu1, t1 = proc.cpu_times(), time.monotonic()
        rss_mb = proc.memory_info().rss / 2**20
        out, _ = clients.communicate(timeout=args.duration + 120 + n)
        result = json.loads(out.strip().splitlines()[-1])
        with contextlib.suppress(Exception):
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as resp:
                result["server_stats"] = json.loads(resp.read())
    finally:
        server.terminate()
        server.wait(timeout=30)
    cores = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (t1 - t0)
    result.update(
        mode=mode,
        n=n,
        server_cpu_cores=round(cores, 2),
        server_rss_mb=round(rss_mb),
        subscribers_per_core=round(n / cores, 1) if cores > 0 else None,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "server", "clients"])
    parser.add_argument("--mode", default="ladder", choices=["ladder", "baseline"])
    parser.add_argument("--port", type=int, default=8391)
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--baseline-max-n", type=int, default=50)
    parser.add_argument("--modes", nargs="+", default=["ladder", "baseline"])
    args = parser.parse_args()

    if args.role == "server":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.mode, args.port, args.fps))
        return
    if args.role == "clients":
        print(
            json.dumps(asyncio.run(run_clients(args.port, args.n[0], args.duration, args.warmup)))
        )
        return

    runs = []
    for mode in args.modes:
        for n in args.n:
            if mode == "baseline" and n > args.baseline_max_n:
                runs.append({"mode": mode, "n": n, "skipped": "above --baseline-max-n"})
                continue
            print(f"running {mode} n={n}", file=sys.stderr)
            try:
                result = one_run(mode, n, args, args.port)
            except Exception as exc:  # a failed run is a result too; keep the others
                runs.append({"mode": mode, "n": n, "failed": repr(exc)})
                continue
            runs.append(result)
            fps = [r["fps_mean"] for r in result["rungs"].values()]
            if mode == "baseline" and fps and min(fps) < 0.8 * args.fps:
                print(f"baseline saturated at n={n}; skipping larger n", file=sys.stderr)
                for bigger in (m for m in args.n if m > n):
                    runs.append({"mode": mode, "n": bigger, "skipped": "baseline saturated"})
                break
    print(
        json.dumps(
            {"cpus": os.cpu_count(), "fps": args.fps, "duration_s": args.duration, "runs": runs},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
