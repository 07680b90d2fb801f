"""Load/test bots: N students that join a class and report what they receive.

Each bot is a real aiortc client (signaling.client.ClassroomClient). With
``--media`` it receives video and audio without decoding them (frames,
bytes and keyframe sizes are counted). Every ``--report-s`` seconds it prints
one JSON line per bot: frame size, frames per second, the rung the server
announced (``media.quality``) and events received.

    .venv/bin/python scripts/bot.py --url http://127.0.0.1:8080 --secret "$SECRET" \\
        --session demo --count 20 --media --duration 60

Tokens are minted locally with the server's API secret (or pass --token).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from signaling.client import ClassroomClient
from signaling.tokens import mint_token


async def run_bot(args: argparse.Namespace, index: int) -> None:
    user = f"{args.user_prefix}{index}"
    token = args.token or mint_token(args.secret, session_id=args.session, user_id=user,
                                     name=user, role="student", ttl_s=3600)[0]
    addresses = args.ice_address.split(",") if args.ice_address else None
    client = ClassroomClient(args.url, token, media=args.media, ice_host_addresses=addresses,
                             transport="websocket" if args.websocket else "auto",
                             max_queued=0)  # callbacks only: no event queue
    await client.connect()
    state = {"rung": None, "reason": None, "events": 0}

    def on_event(event: dict) -> None:
        state["events"] += 1
        if event["type"] == "media.quality":
            state["rung"] = event["payload"]["rung"]
            state["reason"] = event["payload"]["reason"]

    client.on(None, on_event)
    start = time.monotonic()
    last_frames, last_t = 0, start
    try:
        while args.duration <= 0 or time.monotonic() - start < args.duration:
            await asyncio.sleep(args.report_s)
            now = time.monotonic()
            line = {"bot": user, "t": round(now - start, 2), "events": state["events"],
                    "rung": state["rung"], "reason": state["reason"]}
            counter = client.counters.get("video")
            if counter is not None:
                line.update(frames=counter.frames, frame_size=counter.frame_size,
                            fps=round((counter.frames - last_frames) / (now - last_t), 1),
                            max_gap_s=round(counter.max_gap_s, 2))
                last_frames, last_t = counter.frames, now
            print(json.dumps(line), flush=True)
    finally:
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", default=os.environ.get("CLASSROOM_API_SECRET", ""))
    parser.add_argument("--token")
    parser.add_argument("--session", default="demo")
    parser.add_argument("--user-prefix", default="bot")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--media", action="store_true")
    parser.add_argument("--websocket", action="store_true", help="events over the WebSocket")
    parser.add_argument("--ice-address", default="", help="host candidate address(es)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds; 0 = forever")
    parser.add_argument("--report-s", type=float, default=1.0)
    args = parser.parse_args()
    await asyncio.gather(*(run_bot(args, i) for i in range(args.count)))


if __name__ == "__main__":
    asyncio.run(main())
