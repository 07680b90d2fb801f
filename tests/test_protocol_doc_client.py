"""A client written from docs/protocol.md alone: raw aiohttp and aiortc, no project client.

It follows section 10 of the protocol document step by step; if the document and the
server drift apart, this test fails.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.config import Config
from signaling.keys import CONFIG
from tests.support.server import Harness


async def test_minimal_client_from_the_protocol_document(server: Harness):
    secret = server.app[CONFIG].api_secret
    assert isinstance(server.app[CONFIG], Config)
    async with aiohttp.ClientSession() as http:
        # 1. a token from the backend
        async with http.post(f"{server.url}/api/tokens",
                             headers={"Authorization": f"Bearer {secret}"},
                             json={"session_id": "s1", "user_id": "doc", "role": "student"}) as r:
            token = (await r.json())["token"]
        # 2. the WebSocket and its welcome
        ws = await http.ws_connect(f"{server.url}/ws?token={token}")
        welcome = json.loads((await ws.receive()).data)
        assert welcome["type"] == "welcome" and welcome["seq"] is None
        last_seq = welcome["payload"]["last_seq"]
        # 3. peer connection with the two channels, offer -> answer
        pc = RTCPeerConnection()
        events_dc = pc.createDataChannel("events", ordered=True)
        pc.createDataChannel("ephemeral", ordered=False, maxRetransmits=0)
        frames: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        events_dc.on("message", lambda data: frames.put_nowait(("datachannel", data)))
        await pc.setLocalDescription(await pc.createOffer())
        await ws.send_json({"type": "offer", "sdp": pc.localDescription.sdp, "id": "o1"})

        async def read_ws() -> None:
            async for msg in ws:
                frames.put_nowait(("websocket", msg.data))

        reader = asyncio.ensure_future(read_ws())
        # 4. apply the rules of section 4.2 until a broadcast arrives over the channel
        events_via, held, seen = "websocket", {"websocket": [], "datachannel": []}, []
        teacher = await server.client("teacher", "teacher", webrtc=False)
        sent = False
        async with asyncio.timeout(15):
            while not any(e["type"] == "message" for e in seen):
                via, frame = await frames.get()
                for line in frame.split("\n"):
                    env = json.loads(line)
                    if env["seq"] is None:
                        if env["type"] == "answer":
                            assert env["re"] == "o1"
                            await pc.setRemoteDescription(
                                RTCSessionDescription(env["payload"]["sdp"], "answer"))
                        elif env["type"] == "transport":
                            events_via = env["payload"]["events"]
                            for e in sorted(held[events_via], key=lambda e: e["seq"]):
                                if e["seq"] > last_seq:
                                    last_seq = e["seq"]
                                    seen.append(e)
                            if events_via == "datachannel" and not sent:
                                sent = True
                                await teacher.request({"type": "message", "to": {"session": True},
                                                       "text": "from the doc"})
                        continue
                    if via != events_via:
                        held[via].append(env)
                    elif env["seq"] > last_seq:
                        last_seq = env["seq"]
                        seen.append(env)
        message = next(e for e in seen if e["type"] == "message")
        assert message["payload"]["text"] == "from the doc" and events_via == "datachannel"
        # 5. a bad message gets an error naming it, over the transport it came on
        events_dc.send(json.dumps({"type": "teleport", "id": "bad-1"}))
        async with asyncio.timeout(5):
            while True:
                via, frame = await frames.get()
                env = json.loads(frame.split("\n")[0])
                if env["type"] == "error":
                    break
        assert via == "datachannel" and env["re"] == "bad-1"
        assert env["payload"]["code"] == "unknown_type"
        await ws.close()
        reader.cancel()
        await pc.close()
