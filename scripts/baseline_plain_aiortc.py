"""Baseline for the benchmarks: a plain aiortc fan-out server, as aiortc's examples do it.

Each broadcast is serialised per recipient and sent with one ``channel.send()``
per peer, with no batching and no shared envelope. It speaks just enough of
docs/protocol.md (welcome, offer/answer, transport marker, events) for
``signaling.client.ClassroomClient`` and the benchmark to drive it.

    python scripts/baseline_plain_aiortc.py --port 8090
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import WSMsgType, web
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.patches.ice import restrict_host_addresses


class Plain:
    def __init__(self) -> None:
        self.channels: list = []
        self.seq = 0
        self.pcs: set[RTCPeerConnection] = set()
        self.tasks: set[asyncio.Future[None]] = set()

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "welcome", "seq": None, "payload": {
            "last_seq": self.seq, "connection_id": "x", "ice_servers": []}}))
        pc = RTCPeerConnection()
        self.pcs.add(pc)

        @pc.on("datachannel")
        def on_dc(channel) -> None:
            if channel.label != "events":
                return

            def opened() -> None:
                self.channels.append(channel)
                task = asyncio.ensure_future(ws.send_str(json.dumps({
                    "type": "transport", "seq": None,
                    "payload": {"events": "datachannel", "after_seq": self.seq}})))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

            if channel.readyState == "open":
                opened()
            else:
                channel.on("open", opened)

        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "offer":
                await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await ws.send_str(json.dumps({"type": "answer", "seq": None, "re": data.get("id"),
                                              "payload": {"sdp": pc.localDescription.sdp}}))
        await pc.close()
        self.pcs.discard(pc)
        return ws

    async def broadcast(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seq += 1
        for channel in list(self.channels):
            if channel.readyState != "open":
                continue
            # One serialisation and one send per recipient: what plain aiortc code does.
            channel.send(json.dumps({"v": 1, "type": "message", "seq": self.seq,
                                     "ts": int(time.time() * 1000), "session": "bench",
                                     "to": {"session": True},
                                     "payload": {"text": body.get("text", ""),
                                                 "data": body.get("data")}}))
        return web.json_response({"seq": self.seq}, status=202)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    restrict_host_addresses([args.host])
    plain = Plain()
    app = web.Application()
    app.router.add_get("/ws", plain.ws)
    app.router.add_post("/api/sessions/{sid}/events", plain.broadcast)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
