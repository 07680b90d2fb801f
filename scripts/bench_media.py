"""Media fan-out: server CPU per RTP packet per viewer, and viewers per core, per sender path.

One run = a *server* process (a synthetic source, one ladder rung or plain aiortc,
SDP over HTTP on 127.0.0.1, uvloop as in production) and ``--client-procs``
*client* processes holding N viewers between them. Every path is measured in the
same invocation, interleaved (mode after mode for each fps and N), so they share
the machine's state:

* ``forwarder``        payloads cut once per rung, ForwardingSender, UDP GSO, fed by a
                       RungTrack, unpaced (adaptive quality off)
* ``forwarder-paced``  the production path with adaptive quality on (the default): each
                       viewer's ViewerTrack (layer gate, re-stamping), and its datagrams
                       released through ``PacedOutput`` on a ``Pacer`` at the rung's step
                       rate × ``PACING_FACTOR``, as ``QualityController`` sets it up
* ``forwarder-nogso``  the same, one ``sendto`` per packet (GSO's own gain)
* ``ladder``           main before issue 10: the ladder with aiortc's RTCRtpSender per viewer
* ``plain``            plain aiortc: MediaRelay + a per-viewer scaler and Vp8Encoder

Clients are kept from being the bottleneck: all but one viewer per client process
only count RTP packets and frames (marker bit) from the clear RTP header as the
datagram arrives (no SRTP, no jitter buffer); one viewer per process is a full
aiortc receiver that asks for a keyframe (PLI) once a second and reads the capture
time burned into it: glass-to-glass latency.

Figures per run: the server's CPU (whole process, and its event-loop thread alone:
the rung encoders run on their own threads), packets sent (outbound-rtp), µs of
event-loop CPU per packet per viewer, frames each viewer received vs the rung sent.
Per mode and fps, the per-viewer cost is the slope between the smallest and the
largest N (fixed costs such as the source and the encoder cancel out), and
``viewers_per_core`` = 1 s / (that cost × packets per second per viewer).

    PYTHONPATH=. .venv/bin/python scripts/bench_media.py --fps 15 30 --n 20 60 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
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

from adaptive.levels import level_by_name
from adaptive.pacer import Pacer
from rtc_server.media import Ladder, SyntheticVideoTrack, add_counting_transceiver, add_rung_track
from rtc_server.media.encoding import VIDEO_RUNGS
from rtc_server.media.sender_controls import pace
from rtc_server.media.viewer_track import ViewerTrack
from rtc_server.patches.ice import restrict_host_addresses

SCRIPT = os.path.abspath(__file__)
RUNGS = {r.name: r for r in VIDEO_RUNGS}
SOURCES = {"high": (1920, 1080), "medium": (1280, 720), "low": (1280, 720)}
MODES = ("forwarder", "forwarder-paced", "forwarder-nogso", "ladder", "plain")


# -- server process ---------------------------------------------------------------------------


class ScaledTrack(MediaStreamTrack):
    """Plain aiortc: one relay subscription scaled for one viewer (encoded by its sender)."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, height: int) -> None:
        super().__init__()
        self.source = source
        self.height = height

    async def recv(self) -> av.VideoFrame:
        frame = await self.source.recv()
        assert isinstance(frame, av.VideoFrame)
        if frame.height == self.height:
            return frame
        width = round(frame.width * self.height / frame.height) // 2 * 2
        scaled = frame.reformat(width=width, height=self.height, format="yuv420p")
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled


async def subscribe_paced(pc: RTCPeerConnection, ladder: Ladder, rung: str) -> None:
    """A viewer as the server subscribes one with adaptive quality on (``MediaHub`` and
    ``QualityController``): a ViewerTrack on the ladder at the rung's step, its keyframes
    reported (to a no-op here, to the estimator there), the sender paced at the step's
    total rate (``Pacer``'s default factor, as ``QualityController.link`` makes it)."""
    track = ViewerTrack("video", rung, name=f"bench/{id(pc)}")
    sender = add_rung_track(pc, track)
    await track.attach(ladder)
    level = level_by_name(rung)
    track.set_level(level)
    track.on_keyframe = lambda packet: None
    if not pace(sender, Pacer(rate_bps=level.total_bps)):
        raise RuntimeError("the sender could not be paced")


async def serve(mode: str, port: int, fps: float, rung: str) -> None:
    restrict_host_addresses(["127.0.0.1"])
    source = SyntheticVideoTrack(*SOURCES[rung], fps)
    ladder = Ladder(source, "video") if mode != "plain" else None
    relay = MediaRelay() if mode == "plain" else None
    if ladder:
        ladder.start()
    pcs: list[RTCPeerConnection] = []

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection()
        pcs.append(pc)
        if mode == "forwarder-paced":
            assert ladder is not None
            await subscribe_paced(pc, ladder, rung)
        elif ladder is not None:
            add_rung_track(pc, await ladder.subscribe(rung), forward=mode != "ladder",
                           gso=mode == "forwarder")
        else:
            assert relay is not None
            pc.addTrack(ScaledTrack(relay.subscribe(source), RUNGS[rung].height_px))
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp, "type": "answer"})

    async def stats(request: web.Request) -> web.Response:
        packets = sends = 0
        for pc in pcs:
            for sender in pc.getSenders():
                with contextlib.suppress(Exception):
                    for s in (await sender.getStats()).values():
                        if s.type == "outbound-rtp":
                            packets += s.packetsSent
                sends += getattr(sender, "send_calls", 0)
        frames = ladder.rung(rung).frames_encoded if ladder else None
        return web.json_response({"packets_sent": packets, "send_calls": sends,
                                  "frames_encoded": frames, "at": time.monotonic()})

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


# -- client process ---------------------------------------------------------------------------


class LightCount:
    """RTP packets and frames of one viewer, read from the clear header as they arrive."""

    def __init__(self) -> None:
        self.packets = 0
        self.frames = 0
        self.bytes = 0


def count_only(pc: RTCPeerConnection, count: LightCount) -> None:
    """Make ``pc`` count its RTP datagrams instead of handling them (STUN, DTLS, RTCP pass).

    Bench-only shortcut into aioice's protocols (0.13): the receiving work of a full
    aiortc peer would make the clients, not the server, the bottleneck.
    """
    ice = pc.getTransceivers()[0].receiver.transport.transport
    for protocol in ice._connection._protocols:
        original = protocol.datagram_received

        def received(data: bytes, addr: Any, original: Any = original) -> None:
            if len(data) > 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223:
                count.packets += 1
                count.bytes += len(data)
                if data[1] & 0x80:
                    count.frames += 1
                return
            original(data, addr)

        protocol.datagram_received = received


async def run_clients(port: int, n: int, full: int) -> None:
    restrict_host_addresses(["127.0.0.1"])
    url = f"http://127.0.0.1:{port}/offer"
    light: list[tuple[RTCPeerConnection, LightCount]] = []
    heavy: list[tuple[RTCPeerConnection, Any]] = []
    async with aiohttp.ClientSession() as http:

        async def connect(i: int) -> None:
            pc = RTCPeerConnection()
            counter = add_counting_transceiver(pc, "video")
            await pc.setLocalDescription(await pc.createOffer())
            if i >= full:
                count = LightCount()
                count_only(pc, count)
                light.append((pc, count))
            else:
                heavy.append((pc, counter))
            body = {"sdp": pc.localDescription.sdp, "type": "offer"}
            async with http.post(url, json=body) as resp:
                answer = await resp.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

        for start in range(0, n, 10):
            await asyncio.wait_for(
                asyncio.gather(*(connect(i) for i in range(start, min(n, start + 10)))), 120)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "go"
        before = [(c.packets, c.frames) for _, c in light]
        heavy_before = [c.frames for _, c in heavy]
        started = time.monotonic()
        latencies: list[int] = []
        stop = loop.run_in_executor(None, sys.stdin.readline)  # "stop"

        async def sample(pc: RTCPeerConnection, counter: Any) -> None:
            receiver = pc.getTransceivers()[0].receiver
            task = asyncio.create_task(counter.sample(timeout_s=3))
            await asyncio.sleep(0)
            for source in receiver.getSynchronizationSources():
                await receiver._send_rtcp_pli(source.source)
            with contextlib.suppress(TimeoutError):
                result = await task
                if result is not None:
                    latencies.append(result.latency_ms)

        while not stop.done():
            await asyncio.gather(*(sample(pc, c) for pc, c in heavy), asyncio.sleep(1.0))
        elapsed = time.monotonic() - started
        frames = [c.frames - b[1] for (_, c), b in zip(light, before, strict=True)]
        frames += [c.frames - b for (_, c), b in zip(heavy, heavy_before, strict=True)]
        packets = sum(c.packets - b[0] for (_, c), b in zip(light, before, strict=True))
        print(json.dumps({"elapsed_s": elapsed, "frames": frames, "light_packets": packets,
                          "light_viewers": len(light), "latencies_ms": latencies}), flush=True)
        await asyncio.gather(*(pc.close() for pc, _ in [*light, *heavy]))


# -- orchestration ----------------------------------------------------------------------------


def cpu_split(proc: psutil.Process) -> tuple[float, float]:
    """(whole process, event-loop thread) CPU seconds."""
    total = proc.cpu_times()
    loop = next((t for t in proc.threads() if t.id == proc.pid), None)
    return (total.user + total.system,
            (loop.user_time + loop.system_time) if loop else float("nan"))


def profile_server(path: str) -> None:
    """cProfile the server between SIGUSR1 and SIGUSR2 (the measurement window only)."""
    import cProfile
    import signal

    profiler = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())

    def stop(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(path)

    signal.signal(signal.SIGUSR2, stop)


def server_stats(port: int) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=30) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result


def one_run(mode: str, n: int, fps: float, args: argparse.Namespace) -> dict[str, Any]:
    port = args.port
    profile = ["--profile-out", args.profile_out] if args.profile_out else []
    server = subprocess.Popen([sys.executable, SCRIPT, "server", "--mode", mode, "--port",
                               str(port), "--fps", str(fps), "--rung", args.rung, *profile],
                              stdout=subprocess.PIPE, text=True)
    clients: list[subprocess.Popen[str]] = []
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError("server did not start")
        proc = psutil.Process(server.pid)
        procs = min(args.client_procs, n)
        for i in range(procs):
            share = n // procs + (1 if i < n % procs else 0)
            clients.append(subprocess.Popen(
                [sys.executable, SCRIPT, "clients", "--port", str(port), "--n", str(share),
                 "--full", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for c in clients:
            assert c.stdout is not None
            if c.stdout.readline().strip() != "ready":
                raise RuntimeError("clients did not connect")
        time.sleep(args.warmup)
        for c in clients:
            assert c.stdin is not None
            c.stdin.write("go\n")
            c.stdin.flush()
        s0, (cpu0, loop0), t0 = server_stats(port), cpu_split(proc), time.monotonic()
        if args.profile_out:
            server.send_signal(signal.SIGUSR1)
        time.sleep(args.duration)
        if args.profile_out:
            server.send_signal(signal.SIGUSR2)
            time.sleep(1.0)
        s1, (cpu1, loop1), t1 = server_stats(port), cpu_split(proc), time.monotonic()
        rss_mb = proc.memory_info().rss / 2**20
        outputs = []
        for c in clients:
            assert c.stdin is not None
            c.stdin.write("stop\n")
            c.stdin.flush()
        for c in clients:
            out, _ = c.communicate(timeout=120)
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
        server.terminate()
        server.wait(timeout=30)
    window = t1 - t0
    packets = s1["packets_sent"] - s0["packets_sent"]
    frames = [f for o in outputs for f in o["frames"]]
    latencies = sorted(x for o in outputs for x in o["latencies_ms"])
    elapsed = statistics.mean(o["elapsed_s"] for o in outputs)
    sent_frames = (s1["frames_encoded"] - s0["frames_encoded"]) if s1["frames_encoded"] else None
    cores, loop_cores = (cpu1 - cpu0) / window, (loop1 - loop0) / window
    return {
        "mode": mode, "fps": fps, "n": n, "rung": args.rung, "window_s": round(window, 1),
        "server_cpu_cores": round(cores, 3), "loop_cpu_cores": round(loop_cores, 3),
        "server_rss_mb": round(rss_mb),
        "packets_per_s_per_viewer": round(packets / window / n, 1),
        "send_calls_per_packet": round((s1["send_calls"] - s0["send_calls"]) / packets, 3)
        if packets else None,
        "loop_us_per_packet_per_viewer": round(1e6 * (loop1 - loop0) / packets, 2)
        if packets else None,
        "cpu_us_per_packet_per_viewer": round(1e6 * (cpu1 - cpu0) / packets, 2)
        if packets else None,
        "frames_sent_per_s": round(sent_frames / window, 2) if sent_frames else None,
        "frames_received_per_s_per_viewer": {
            "mean": round(statistics.mean(frames) / elapsed, 2) if frames else None,
            "min": round(min(frames) / elapsed, 2) if frames else None},
        "latency_ms": {"samples": len(latencies),
                       "p50": latencies[len(latencies) // 2] if latencies else None,
                       "p99": latencies[min(len(latencies) - 1, int(len(latencies) * .99))]
                       if latencies else None},
    }


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mode and fps: the per-viewer cost as the slope between the smallest and largest N."""
    out = []
    keys = sorted({(r["mode"], r["fps"]) for r in runs if "loop_cpu_cores" in r})
    for mode, fps in keys:
        mine = sorted((r for r in runs if r.get("mode") == mode and r.get("fps") == fps
                       and "loop_cpu_cores" in r), key=lambda r: r["n"])
        lo, hi = mine[0], mine[-1]
        pps = hi["packets_per_s_per_viewer"]
        entry: dict[str, Any] = {"mode": mode, "fps": fps, "pps_per_viewer": pps}
        if hi["n"] > lo["n"]:
            d_pkts = hi["n"] * hi["packets_per_s_per_viewer"] - lo["n"] * lo[
                "packets_per_s_per_viewer"]
            for key, name in (("loop_cpu_cores", "loop"), ("server_cpu_cores", "process")):
                slope_us = 1e6 * (hi[key] - lo[key]) / d_pkts if d_pkts > 0 else None
                entry[f"{name}_us_per_packet_per_viewer"] = round(slope_us, 2) if slope_us else None
                entry[f"viewers_per_core_{name}"] = (round(1e6 / (slope_us * pps))
                                                     if slope_us and pps else None)
        full_rate = [r["n"] for r in mine if r["frames_received_per_s_per_viewer"]["min"]
                     and r["frames_received_per_s_per_viewer"]["min"] >= 0.9 * fps]
        entry["largest_n_at_full_rate"] = max(full_rate) if full_rate else None
        out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "server", "clients"])
    parser.add_argument("--mode", default="forwarder", choices=MODES)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--port", type=int, default=8397)
    parser.add_argument("--n", type=int, nargs="+", default=[20, 60])
    parser.add_argument("--plain-n", type=int, nargs="+", default=[2, 6],
                        help="viewers for plain aiortc (it encodes per viewer)")
    parser.add_argument("--full", type=int, default=1)
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0])
    parser.add_argument("--rung", default="medium", choices=sorted(RUNGS))
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--profile-out", help="server: cProfile from SIGUSR1 to SIGUSR2, "
                        "stats written here (scripts/profile_media.py server)")
    args = parser.parse_args()

    if args.role == "server":
        import uvloop

        if args.profile_out:
            profile_server(args.profile_out)
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(serve(args.mode, args.port, args.fps[0], args.rung))
        return
    if args.role == "clients":
        import uvloop

        uvloop.run(run_clients(args.port, args.n[0], args.full))
        return

    runs: list[dict[str, Any]] = []
    for fps in args.fps:
        for i in range(max(len(args.n), len(args.plain_n))):
            for mode in args.modes:
                sizes = args.plain_n if mode == "plain" else args.n
                if i >= len(sizes):
                    continue
                n = sizes[i]
                print(f"running {mode} fps={fps} n={n}", file=sys.stderr)
                try:
                    runs.append(one_run(mode, n, fps, args))
                except Exception as exc:  # a failed run is a result too; keep the others
                    runs.append({"mode": mode, "fps": fps, "n": n, "failed": repr(exc)})
                print(json.dumps(runs[-1]), file=sys.stderr)
    print(json.dumps({"cpus": os.cpu_count(), "rung": args.rung, "duration_s": args.duration,
                      "summary": summarise(runs), "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
