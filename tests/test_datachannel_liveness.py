"""A data channel whose UDP path goes silent while the WebSocket stays up loses nothing.

The server runs in its own process; in this process the client's UDP is silenced
(every datagram its ICE agent would send or receive is dropped, as a firewall or a
NAT rebinding would) while the teacher broadcasts 60 events a second. The server
notices the silent channel within seconds (the client's pings stop arriving),
switches the client's stream to the WebSocket and resends everything after the
last seq the client acknowledged; the client opens a new peer connection once UDP
works again. Not one event may be missing or out of order.
"""

from __future__ import annotations

import asyncio
import datetime
import time

import aiohttp
import aioice.ice
import pytest

from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.server import SECRET, ServerProcess

pytestmark = pytest.mark.timeout(180)

RATE = 60
SILENT_S = 40.0


class UdpSilencer:
    """Drops every ICE datagram of this process while ``on`` (both directions)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = False
        self.dropped = 0
        protocol = aioice.ice.StunProtocol
        received, send_data, send_stun = (protocol.datagram_received, protocol.send_data,
                                          protocol.send_stun)
        silencer = self

        def datagram_received(self, data, addr):
            if silencer.on:
                silencer.dropped += 1
                return None
            return received(self, data, addr)

        async def send_data_(self, data, addr):
            if silencer.on:
                silencer.dropped += 1
                return None
            return await send_data(self, data, addr)

        def send_stun_(self, message, addr):
            if silencer.on:
                silencer.dropped += 1
                return None
            return send_stun(self, message, addr)

        monkeypatch.setattr(protocol, "datagram_received", datagram_received)
        monkeypatch.setattr(protocol, "send_data", send_data_)
        monkeypatch.setattr(protocol, "send_stun", send_stun_)


async def _broadcast(url: str, count: int, rate: float) -> None:
    async with aiohttp.ClientSession() as http:
        start = time.monotonic()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            async with http.post(f"{url}/api/sessions/s1/events",
                                 headers={"Authorization": f"Bearer {SECRET}"},
                                 json={"to": {"session": True}, "text": str(i)}) as resp:
                assert resp.status == 202, await resp.text()


def _seconds(log_line: str) -> float:
    """The wall-clock time a server log line was written."""
    stamp = datetime.datetime.strptime(log_line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


async def test_silent_udp_path_loses_no_event(monkeypatch) -> None:
    silencer = UdpSilencer(monkeypatch)
    server = await ServerProcess().start()
    client: ClassroomClient | None = None
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{server.url}/api/sessions", json={
                "session_id": "s1", "teacher_id": "teacher"},
                headers={"Authorization": f"Bearer {SECRET}"})
        token = mint_token(SECRET, session_id="s1", user_id="ada", name="Ada", role="student",
                           ttl_s=600)[0]
        client = ClassroomClient(server.url, token, ice_host_addresses=["127.0.0.1"])
        await client.connect()
        await client.wait_datachannel()
        got: list[int] = []
        client.on("message", lambda e: got.append(int(e["payload"]["text"])))

        total = int(RATE * (SILENT_S + 10))
        sender = asyncio.ensure_future(_broadcast(server.url, total, RATE))
        await asyncio.sleep(5)
        silencer.on = True  # the UDP path dies; the WebSocket is still up
        silenced_at = time.time()
        silent_from = len(got)
        await asyncio.sleep(SILENT_S)
        silencer.on = False
        await sender
        async with asyncio.timeout(30):
            while len(got) < total:
                await asyncio.sleep(0.1)
        assert got == list(range(total)), "every event, once, in order"
        assert silencer.dropped > 0 and len(got) > silent_from
        # The server gave up on the channel within seconds of the silence (not at ICE
        # consent expiry, ~30 s), saying why.
        lost = [line for line in server.output if "data channel" in line and "WebSocket" in line]
        assert lost and ("silent" in lost[0] or "stuck" in lost[0]), lost
        assert 0 < _seconds(lost[0]) - silenced_at < 6, (lost[0], silenced_at)
        # And once UDP works again, the client has a data channel again (a new peer
        # connection on the same WebSocket).
        async with asyncio.timeout(45):
            while client.events_via != "datachannel":
                await asyncio.sleep(0.2)
    finally:
        if client is not None:
            await client.close()
        assert await server.stop() == 0
