"""A client written from docs/protocol.md alone: raw aiohttp and aiortc, no project client.

It follows section 10 of the protocol document step by step; if the document and the
server drift apart, this test fails.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import aioice.ice
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


class DocClient:
    """Sections 3, 4 and 5 of docs/protocol.md, as a client author would write them."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.replies: list[dict] = []
        self.events: list[dict] = []
        self.channel = None
        self._tasks: list[asyncio.Task] = []

    async def join(self, token: str, *, webrtc: bool = True) -> dict:
        self.ws = await self.http.ws_connect(f"{self.base}/ws?token={token}")
        welcome = json.loads((await self.ws.receive()).data)
        self._tasks.append(asyncio.ensure_future(self._read_ws()))
        self.pc = RTCPeerConnection()
        if webrtc:
            self.channel = self.pc.createDataChannel("events", ordered=True)
            self.pc.createDataChannel("ephemeral", ordered=False, maxRetransmits=0)
            opened = asyncio.Event()
            self.channel.on("open", opened.set)
            self.channel.on("message", self._on_frame)
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self.request({"type": "offer", "sdp": self.pc.localDescription.sdp,
                                         "id": "offer-1"}, via="websocket")
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["payload"]["sdp"],
                                                                     "answer"))
            await asyncio.wait_for(opened.wait(), 10)
        return welcome["payload"]

    async def _read_ws(self) -> None:
        async for msg in self.ws:
            self._on_frame(msg.data)

    def _on_frame(self, frame: str | bytes) -> None:
        for line in (frame.decode() if isinstance(frame, bytes) else frame).split("\n"):
            env = json.loads(line)
            (self.replies if env["seq"] is None else self.events).append(env)

    async def send(self, text: str, via: str) -> None:
        if via == "datachannel":
            self.channel.send(text)
        else:
            await self.ws.send_str(text)

    async def reply_to(self, mid: str | None, timeout: float = 10) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                for env in self.replies:
                    if env.get("re") == mid and (mid is not None or env["type"] == "error"):
                        self.replies.remove(env)
                        return env
                await asyncio.sleep(0.01)

    async def request(self, message: dict, via: str = "datachannel") -> dict:
        await self.send(json.dumps(message), via)
        return await self.reply_to(message["id"])

    async def event(self, type: str, timeout: float = 10) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                for env in self.events:
                    if env["type"] == type:
                        self.events.remove(env)
                        return env
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.ws.close()
        for task in self._tasks:
            task.cancel()
        await self.pc.close()


async def test_errors_limits_and_board_rules_as_the_document_states(make_server, monkeypatch):
    # 4.4: an aiortc client on loopback limits aioice's host addresses itself.
    monkeypatch.setattr(aioice.ice, "get_host_addresses",
                        lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    server = await make_server(rate_messages_per_s=5, rate_burst=10)
    secret = server.app[CONFIG].api_secret
    api = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/sessions", headers=api, json={
                "session_id": "doc", "teacher_id": "tina", "subject": "Art"}) as resp:
            assert resp.status == 201

        async def token(user: str, role: str, session: str = "doc") -> str:
            async with http.post(f"{server.url}/api/tokens", headers=api, json={
                    "session_id": session, "user_id": user, "role": role}) as resp:
                return (await resp.json())["token"]

        teacher, student = DocClient(http, server.url), DocClient(http, server.url)
        welcome = await teacher.join(await token("tina", "teacher"))
        await student.join(await token("ada", "student"))
        limit = welcome["limits"]["max_message_bytes"]

        # 5.6: an error carries the id wherever it stands, also in a message over the limit.
        for via in ("datachannel", "websocket"):
            big = json.dumps({"type": "message", "to": {"group": "teacher"},
                              "text": "x" * (limit + 1), "id": f"last-{via}"})
            await student.send(big, via)
            err = await student.reply_to(f"last-{via}")
            assert err["type"] == "error" and err["payload"]["code"] == "message_too_large"

        # 5.3: what the server accepts — text, numbers, nesting; the field is named.
        for mid, raw, field in (
                ("s1", '{"type":"message","id":"s1","to":{"group":"teacher"},"text":"\\ud83d"}',
                 "'text'"),
                ("s2", '{"type":"message","id":"s2","to":{"group":"teacher"},"text":"x",'
                       '"data":{"v":NaN}}', "'data.v'")):
            await student.send(raw, "datachannel")
            err = await student.reply_to(mid)
            assert err["payload"]["code"] == "malformed_message"
            assert field in err["payload"]["message"]

        # 5.2 board: colours, defaults, and the refusal of an op on a missing item.
        await teacher.request({"type": "board.op", "id": "b1", "op": {"kind": "add", "item": {
            "id": "n1", "x": 10, "y": 20, "text": "hi", "color": "#ABCDEF"}}})
        await teacher.request({"type": "board.op", "id": "b2", "op": {"kind": "add", "item": {
            "id": "n2", "x": 10, "y": 20, "text": "plain"}}})
        await teacher.request({"type": "board.op", "id": "b3", "op": {"kind": "stroke", "item": {
            "id": "s1", "points": [[1, 2], [3, 4]]}}})
        colours = {}
        for _ in range(3):
            item = (await student.event("board.op"))["payload"]["op"]["item"]
            colours[item["id"]] = item["color"]
        assert colours == {"n1": "#abcdef", "n2": "#fff59d", "s1": "#1e3a8a"}
        for op, field in (({"kind": "add", "item": {"id": "n3", "x": 1, "y": 1, "text": "t",
                                                     "color": "red"}}, "op.item.color"),
                          ({"kind": "delete", "item_id": "gone"}, "op.item_id")):
            err = await teacher.request({"type": "board.op", "id": f"bad-{field}", "op": op})
            assert err["payload"]["code"] == "invalid_board_op"
            assert field in err["payload"]["message"]

        # 5.3: built-in groups cannot be changed; an unknown group cannot be messaged.
        err = await teacher.request({"type": "group.set", "id": "g1", "group": "students",
                                     "add": ["ada"]})
        assert err["payload"]["code"] == "invalid_request"
        err = await teacher.request({"type": "message", "id": "m1", "to": {"group": "nobody"},
                                     "text": "hello?"})
        assert err["payload"]["code"] == "invalid_request"

        # 2: the same over HTTP — 422 for a built-in group, 403 for another session's token.
        teacher_http = {"Authorization": f"Bearer {await token('tina', 'teacher')}"}
        async with http.put(f"{server.url}/api/sessions/doc/groups/teacher", headers=teacher_http,
                            json={"add": ["ada"]}) as resp:
            assert (resp.status, (await resp.json())["error"]["code"]) == (422, "invalid_request")
        other = {"Authorization": f"Bearer {await token('tom', 'teacher', session='other')}"}
        async with http.get(f"{server.url}/api/sessions/doc", headers=other) as resp:
            assert (resp.status, (await resp.json())["error"]["code"]) == (403, "forbidden")
        async with http.get(f"{server.url}/api/no/such/path", headers=api) as resp:
            assert (resp.status, (await resp.json())["error"]["code"]) == (404, "not_found")

        # 5.6 / 8: over the rate, rate_limited with a numeric retry_after_ms.
        for i in range(welcome["limits"]["burst"] + 5):
            await student.send(json.dumps({"type": "help.request", "id": f"h{i}",
                                           "kind": "hand", "text": ""}), "websocket")
        async with asyncio.timeout(10):
            while not any(r["type"] == "error" and r["payload"]["code"] == "rate_limited"
                          for r in student.replies):
                await asyncio.sleep(0.01)
        limited = next(r for r in student.replies if r["type"] == "error"
                       and r["payload"]["code"] == "rate_limited")
        assert isinstance(limited["payload"]["retry_after_ms"], int)
        assert limited["payload"]["retry_after_ms"] > 0 and limited["re"].startswith("h")
        await teacher.close()
        await student.close()


def _documented_fields(doc: str, heading: str) -> list[str]:
    """The top-level field names of the JSON object a section of docs/protocol.md shows
    first (``{video, audio, offered: [...], viewers: [{...}], worker}``)."""
    section = doc.split(f"### `{heading}`", 1)[1]
    shape = section[section.index("`{") + 1:]
    names, part, depth = [], "", 0
    for char in shape:
        depth += char in "{["
        depth -= char in "}]"
        if depth == 0:
            break
        if depth == 1 and char not in "{,":
            part += char
        elif depth == 1 and char == ",":
            names.append(part)
            part = ""
    names.append(part)
    return [name.split(":")[0].strip() for name in names if name.strip()]


async def test_media_state_has_every_documented_field_before_anything_is_published(
        server: Harness):
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    fields = _documented_fields(doc, "GET /api/sessions/{id}/media")
    assert {"video", "screen_share", "offered", "sources", "workers"} <= set(fields)
    teacher = {"Authorization": f"Bearer {server.token('teacher', 'teacher')}"}
    async with aiohttp.ClientSession() as http, http.get(
            f"{server.url}/api/sessions/s1/media", headers=teacher) as resp:
        assert resp.status == 200
        state = await resp.json()
    assert [f for f in fields if f not in state] == []
    assert (state["video"], state["audio"], state["screen_share"]) == (False, False, False)
    assert (state["offered"], state["sources"], state["ladders"]) == ([], [], [])
