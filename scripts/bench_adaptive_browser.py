"""Adaptive quality with real Chromium on shaped links: the old policy against the new.

    sudo .venv/bin/python scripts/bench_adaptive_browser.py [--runs N]

Needs root (network namespaces, ``tc``) and Debian's /usr/bin/chromium. For
each run, and for each controller in turn (interleaved, so a busy machine
weighs on both alike), one student page in Chromium inside a network
namespace joins a 720p/15 fps synthetic class at 720p over a veth whose
server side this script shapes with ``tc tbf`` (60 ms queue):

1. ``constrained``: 1,800 kbit for 40 s (low fits, medium does not);
2. ``below_low``: 800 kbit for 30 s (low at 30 fps does not fit);
3. ``restored``: unshaped for 30 s.

Controllers: ``legacy`` is what main ran before this branch
(``QualityController(mode="legacy")``: trial probes of the next rung with
the policy's backoff, the three rungs only, no pacing, no keyframe notices
to the estimator, every NACK answered); ``issue14`` is this branch (padding
probes with backoff and a remembered ceiling, the floor below 480p, pacing,
a retransmission budget).

Per phase, measured in the page (WebRTC ``getStats()`` once a second:
frames decoded, frame height, ``totalFreezesDuration``) and from the
server's decisions: freeze seconds, frames per second, switches, up-steps
committed to a rung the link cannot carry, seconds the page showed 720p
while constrained (trial excursions), seconds from the phase's start to its
last switch (settled), and the step at the end. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Imports below need the path fix-up above.
from aiohttp import web

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.app import create_app
from signaling.keys import CLASSROOM, MEDIA
from signaling.tokens import mint_token
from tests.support.browser import chromium_in
from tests.support.netns import Namespace, run
from tests.support.server import SECRET, server_config

PORT = 8773
PHASES = (("constrained", "1800kbit", 40), ("below_low", "800kbit", 30), ("restored", None, 30))
INBOUND = """async () => {
    const pc = window.classroom && window.classroom.pc;
    if (!pc) return null;
    const stats = await pc.getStats();
    let v = null;
    stats.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') v = r; });
    return v && {frames: v.framesDecoded || 0, height: v.frameHeight || 0,
                 freeze_s: v.totalFreezesDuration || 0, lost: v.packetsLost || 0};
}"""


def shape(ns: Namespace, rate: str | None) -> None:
    run("tc", "qdisc", "del", "dev", ns.host_if, "root", check=False)
    if rate is not None:
        run("tc", "qdisc", "add", "dev", ns.host_if, "root", "tbf", "rate", rate,
            "burst", "20kb", "latency", "60ms")


def summarise(samples: list[dict[str, Any]], decisions: list[dict[str, Any]], start: float,
              end: float, start_ms: float, constrained: bool) -> dict[str, Any]:
    window = [s for s in samples if start <= s["t"] <= end and "frames" in s]
    inside = [d for d in decisions if start_ms <= d["at_ms"] <= start_ms + (end - start) * 1000]
    out: dict[str, Any] = {"switches": len(inside)}
    if len(window) > 1:
        first, last = window[0], window[-1]
        out["fps"] = round((last["frames"] - first["frames"]) / (last["t"] - first["t"]), 1)
        out["freeze_s"] = round(last["freeze_s"] - first["freeze_s"], 1)
        out["packets_lost"] = last["lost"] - first["lost"]
    out["settled_s"] = round((inside[-1]["at_ms"] - start_ms) / 1000, 1) if inside else 0.0
    if constrained:
        out["up_to_720p"] = sum(1 for d in inside if d["kind"] == "up" and d["to"] == "medium")
        out["seconds_shown_720p"] = sum(1 for s in window[3:] if s.get("height") == 720)
    return out


async def one(mode: str) -> dict[str, Any]:
    ns = Namespace.create("abb")
    runner = None
    result: dict[str, Any] = {"mode": mode}
    try:
        app = create_app(server_config(ice_host_addresses=(ns.host_ip,), adaptive_quality=True,
                                       media_initial_rung="medium"))
        runner = web.AppRunner(app)
        await runner.setup()
        app[MEDIA].quality.mode = mode  # before any viewer: links take it when made
        await web.TCPSite(runner, ns.host_ip, PORT).start()
        await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher")
        media = app[MEDIA].hub.session("s1")
        await media.publish(SyntheticVideoTrack(1280, 720, 15), origin="synthetic",
                            role="camera")
        await media.publish(SyntheticAudioTrack(), origin="synthetic", role="microphone")
        shape(ns, PHASES[0][1])
        base = f"http://{ns.host_ip}:{PORT}"
        token, _ = mint_token(SECRET, session_id="s1", user_id="stu", name="Stu",
                              role="student", ttl_s=600)
        async with chromium_in(ns, secure_origin=base) as browser:
            page = await browser.new_page()
            await page.goto(f"{base}/student.html?token={token}")
            samples: list[dict[str, Any]] = []

            async def sample() -> dict[str, Any]:
                got = await page.evaluate(INBOUND) or {}
                got["t"] = time.monotonic()
                samples.append(got)
                return got

            deadline = time.monotonic() + 30
            while (await sample()).get("frames", 0) == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError("the student's video did not start")
                await asyncio.sleep(0.5)
            quality = app[MEDIA].quality
            conn = next(iter(media.viewers))
            for index, (name, rate, seconds) in enumerate(PHASES):
                if index:
                    shape(ns, rate)
                start, start_ms = time.monotonic(), time.monotonic() * 1000
                while time.monotonic() - start < seconds:
                    await sample()
                    await asyncio.sleep(1)
                link = quality.links.get(conn)
                decisions = list(link.history) if link is not None else []
                result[name] = summarise(samples, decisions, start, time.monotonic(), start_ms,
                                         constrained=name == "constrained")
                result[name]["step"] = media.effective_step(media.viewers[conn])
            status = quality.status(conn)
            result["probes"] = status.get("probes")
            result["retransmits"] = status.get("retransmits")
    finally:
        if runner is not None:
            await runner.cleanup()
        ns.delete()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces and tc)")
    runs = []
    for _ in range(args.runs):
        for mode in ("legacy", "issue14"):
            runs.append(await one(mode))
            print(json.dumps(runs[-1]), file=sys.stderr)
    print(json.dumps({"phases": [{"name": n, "link": r or "unshaped", "seconds": s}
                                 for n, r, s in PHASES], "runs": runs}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
