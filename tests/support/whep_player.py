"""A WHEP player: a receive-only aiortc peer speaking only WHEP (POST an offer, apply the
answer, DELETE the Location), and the two HTTP calls it makes (tests of WHEP and the relay)."""

from __future__ import annotations

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.media import add_counting_transceiver
from tests.support.server import Harness

__all__ = ["WhepPlayer", "delete", "post"]


class WhepPlayer:
    """A receive-only aiortc peer that plays over WHEP and counts what it receives."""

    def __init__(self, kinds: tuple[str, ...] = ("video", "audio")) -> None:
        self.pc = RTCPeerConnection()
        self.counters = {kind: add_counting_transceiver(self.pc, kind) for kind in kinds}
        self.location: str | None = None

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def play(self, server: Harness, token: str | None, query: str = ""
                   ) -> tuple[aiohttp.ClientResponse, str]:
        resp, body = await post(server, f"/whep/s1{query}", await self.offer(), token)
        if resp.status == 201:
            self.location = resp.headers["Location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        return resp, body

    async def close(self) -> None:
        await self.pc.close()


async def post(server: Harness, path: str, sdp: str, token: str | None,
               content_type: str = "application/sdp") -> tuple[aiohttp.ClientResponse, str]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.post(
            server.url + path, data=sdp, headers=headers) as resp:
        return resp, await resp.text()


async def delete(server: Harness, location: str, token: str) -> int:
    async with aiohttp.ClientSession() as http, http.delete(
            server.url + location, headers={"Authorization": f"Bearer {token}"}) as resp:
        return resp.status
