"""WHEP egress: an aiortc WHEP player pulls a rung of the class's video and audio.

The player is a plain aiortc peer connection speaking only WHEP (POST an offer, apply
the answer, DELETE the Location), not the classroom protocol.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiortc import RTCPeerConnection

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.keys import MEDIA
from tests.support.server import SECRET, Harness
from tests.support.whep_player import WhepPlayer, delete, post


async def wait_until(predicate, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


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
