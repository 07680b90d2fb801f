"""WHEP egress: an aiortc WHEP player pulls a rung of the class's video and audio.

The player is a plain aiortc peer connection speaking only WHEP (POST an offer, apply
the answer, DELETE the Location), not the classroom protocol.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack, add_counting_transceiver
from signaling.keys import MEDIA
from tests.support.server import SECRET, Harness


async def wait_until(predicate, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


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


@pytest.fixture
async def players():
    made: list[WhepPlayer] = []

    def make(*kinds: str) -> WhepPlayer:
        player = WhepPlayer(kinds or ("video", "audio"))
        made.append(player)
        return player

    yield make
    await asyncio.gather(*(p.close() for p in made))


@pytest.fixture
async def lesson(server: Harness):
    teacher = await server.client("teacher", "teacher", publish=[
        SyntheticVideoTrack(1280, 720, 10), SyntheticAudioTrack()])
    hub = server.app[MEDIA].hub
    await wait_until(lambda: hub.sessions.get("s1") and hub.sessions["s1"].current("video")
                     and hub.sessions["s1"].current("video").source_size == (1280, 720))
    return teacher


async def test_whep_player_pulls_the_asked_rung_and_delete_ends_it(server: Harness, lesson,
                                                                  players):
    player = players()
    token = server.token("vera", "student")
    resp, _ = await player.play(server, token, "?rung=low")
    assert resp.status == 201 and resp.content_type == "application/sdp"
    assert player.location is not None and player.location.startswith("/whep/s1/")
    assert resp.headers["ETag"].startswith('"')
    await player.counters["video"].wait_frames(10, timeout_s=30)
    await player.counters["audio"].wait_frames(10, timeout_s=30)
    sample = await player.counters["video"].sample(timeout_s=20)
    assert sample is not None and (sample.width, sample.height) == (852, 480)
    media = server.app[MEDIA].hub.sessions["s1"]
    (viewer,) = [v for v in media.viewers.values() if v.conn_id.startswith("whep:")]
    assert viewer.user_id == "vera" and viewer.manual and viewer.wanted == "low"

    assert await delete(server, player.location, token) == 200
    assert [v for v in media.viewers.values() if v.conn_id.startswith("whep:")] == []
    await wait_until(lambda: player.pc.connectionState == "closed")
    assert await delete(server, player.location, token) == 200  # late DELETE: done
    assert await delete(server, "/whep/s1/never-issued", token) == 404


async def test_whep_with_the_api_secret_plays_before_anyone_publishes(server: Harness, players):
    player = players("video")
    resp, _ = await player.play(server, SECRET)
    assert resp.status == 201
    await wait_until(lambda: player.pc.connectionState == "connected")
    assert player.counters["video"].frames == 0  # nothing published yet: it waits
    teacher = await server.client("teacher", "teacher", publish=[
        SyntheticVideoTrack(640, 360, 10)])
    await player.counters["video"].wait_frames(5, timeout_s=30)
    await teacher.close()


async def test_whep_player_closing_its_connection_ends_the_resource(server: Harness, lesson,
                                                                   players):
    player = players()
    resp, _ = await player.play(server, server.token("vera", "student"))
    assert resp.status == 201
    await player.counters["video"].wait_frames(3, timeout_s=30)
    whep = server.app[MEDIA].whep
    assert len(whep.resources) == 1
    await player.close()
    await wait_until(lambda: whep.resources == {})


@pytest.mark.parametrize("case,status,code", [
    ("no token", 401, "token_missing"),
    ("other session", 403, "forbidden"),
    ("bad rung", 422, None),
    ("send only", 400, "invalid_sdp"),
    ("not sdp", 415, "unsupported_media_type"),
])
async def test_whep_refusals(server: Harness, players, case, status, code):
    token = server.token("vera", "student")
    path = "/whep/s1"
    content_type = "application/sdp"
    if case == "send only":
        pc = RTCPeerConnection()
        pc.addTransceiver(SyntheticVideoTrack(320, 240, 5), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
    else:
        sdp = await players().offer()
    if case == "no token":
        token = None
    elif case == "other session":
        token = server.token("vera", "student", session="s2")
    elif case == "bad rung":
        path += "?rung=ultra"
    elif case == "not sdp":
        content_type = "application/json"
    resp, body = await post(server, path, sdp, token, content_type)
    assert resp.status == status, body
    error = json.loads(body)["error"]
    if code is not None:
        assert error["code"] == code
    if case == "no token":
        assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="whep"')
    if case == "bad rung":
        assert "ultra" in error["message"]
    assert server.app[MEDIA].whep.resources == {}
