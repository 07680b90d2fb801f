"""The media relay: a class's rungs encoded on one server process, watched on another.

Two real servers (two apps, as two workers would be) share the real Redis under a
unique prefix; the teacher publishes on ``a`` (the origin), viewers are on ``b``
(an edge). The relay is exercised end to end: a real aiortc student on ``b`` gets
the teacher's video, and the edge's rung tracks see exactly the origin's frames.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from rtc_server.media.relayed_ladder import RelayedLadder, RemoteRung
from signaling.app import create_app
from signaling.keys import MEDIA
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import Harness, server_config
from tests.support.whep_player import WhepPlayer, delete

pytestmark = pytest.mark.redis


async def wait_until(predicate, timeout: float = 40.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.fixture
async def two_workers(aiohttp_server):
    url, prefix = require_redis(), unique_prefix()
    harnesses = []
    try:
        for node in ("a", "b"):
            app = create_app(server_config(redis_url=url, redis_key_prefix=prefix,
                                           node_name=node))
            server: TestServer = await aiohttp_server(app)
            harnesses.append(Harness(server))
        await harnesses[0].classroom.create_session(session_id="s1", teacher_id="teacher",
                                                    subject="Science")
        yield harnesses
    finally:
        for harness in harnesses:
            await harness.close()
        await delete_prefix(url, prefix)


@pytest.fixture
async def lesson(two_workers):
    """The teacher publishes 720p at 10 fps (and a tone) on ``a``."""
    a, b = two_workers
    teacher = await a.client("teacher", "teacher", publish=[
        SyntheticVideoTrack(1280, 720, 10), SyntheticAudioTrack()])
    hub_a = a.app[MEDIA].hub
    await wait_until(lambda: hub_a.sessions.get("s1") and hub_a.sessions["s1"].current("video")
                     and hub_a.sessions["s1"].current("video").source_size == (1280, 720))
    return teacher, hub_a.sessions["s1"]


async def relayed(harness: Harness, kind: str = "video") -> RelayedLadder:
    media = harness.app[MEDIA].hub.session("s1")
    await wait_until(lambda: isinstance(media.current(kind), RelayedLadder))
    ladder = media.current(kind)
    assert isinstance(ladder, RelayedLadder)
    return ladder


class Recorder:
    """A rung listener that keeps what it is given."""

    def __init__(self) -> None:
        self.packets: list = []

    def _deliver(self, rung, packet) -> None:
        self.packets.append(packet)


async def test_a_student_on_another_worker_gets_the_teachers_video(two_workers, lesson):
    a, b = two_workers
    _, origin = lesson
    student = await b.client("edda", media=True)
    await student.counters["video"].wait_frames(20, timeout_s=30)
    await student.counters["audio"].wait_frames(20, timeout_s=30)
    sample = await student.counters["video"].sample(timeout_s=20)
    assert sample is not None and (sample.width, sample.height) == (1280, 720)
    # The origin encodes; the edge only receives.
    edge = b.app[MEDIA].hub.sessions["s1"]
    assert edge.sources == [] and origin.current("video").rung("medium").running
    assert edge.current("video").origin_node == "a"
    workers = {w["worker"]: w for w in await b.app[MEDIA].hub.workers("s1")}
    assert workers["a"]["publisher"] and not workers["b"]["publisher"]
    assert workers["b"]["viewers"] == 1 and workers["a"]["viewers"] == 0
    # The origin's media state: the rung is relayed to b, and b's viewer is not counted here.
    video = next(ladder for ladder in origin.stats()["ladders"] if ladder["kind"] == "video")
    assert video["relay"]["rungs"]["medium"]["to"] == ["b"]
    assert video["rungs"]["medium"]["subscribers"] == 0


async def test_relayed_frames_arrive_in_order_and_complete(two_workers, lesson):
    a, b = two_workers
    _, origin = lesson
    ladder = await relayed(b)
    at_origin = Recorder()
    origin.current("video").rung("low").add(at_origin)
    track = await ladder.subscribe("low")
    try:
        got = []
        while len(got) < 25:
            got.append(await asyncio.wait_for(track.recv(), 30))
        rung = ladder.rung("low")
        assert isinstance(rung, RemoteRung) and rung.frames_lost == 0
        sent = [(p.data, p.is_keyframe) for p in at_origin.packets]
        relayed_frames = [(p.data, p.is_keyframe) for p in got]
        assert relayed_frames[0][1], "the edge starts its viewer at a keyframe"
        start = sent.index(relayed_frames[0])
        # Byte for byte the origin's frames, none missing, none reordered.
        assert relayed_frames == sent[start:start + len(relayed_frames)]
        assert [p.pts for p in got] == sorted(p.pts for p in got)
    finally:
        track.stop()
        origin.current("video").rung("low").remove(at_origin)


async def test_a_keyframe_request_on_the_edge_reaches_the_origin_encoder(two_workers, lesson):
    a, b = two_workers
    _, origin = lesson
    ladder = await relayed(b)
    track = await ladder.subscribe("low")
    try:
        first = await asyncio.wait_for(track.recv(), 30)
        assert first.is_keyframe
        origin_rung = origin.current("video").rung("low")
        before = (origin_rung.keyframe_requests, origin_rung.keyframes_forced)
        await asyncio.sleep(0.6)  # past the rung's 0.5 s rate limit on forced keyframes
        track.request_keyframe()  # a PLI from a viewer on the edge
        await wait_until(lambda: origin_rung.keyframes_forced > before[1])
        assert origin_rung.keyframe_requests > before[0]
        while not (await asyncio.wait_for(track.recv(), 30)).is_keyframe:
            pass  # the forced keyframe reaches the edge's viewer
    finally:
        track.stop()


async def test_relaying_stops_when_the_last_remote_viewer_leaves(two_workers, lesson):
    a, b = two_workers
    _, origin = lesson
    ladder = await relayed(b)
    origin_ladder = origin.current("video")
    relay_a = a.app[MEDIA].relay
    tracks = [await ladder.subscribe("low") for _ in range(2)]
    for track in tracks:
        await asyncio.wait_for(track.recv(), 30)
    stats = relay_a.origin_stats(origin_ladder)
    assert stats["rungs"]["low"]["to"] == ["b"]
    assert origin_ladder.rung("low").running
    assert not origin_ladder.rung("high").running and "high" not in stats["rungs"]
    tracks[0].stop()  # one viewer left: still relayed
    await asyncio.sleep(1.5)
    assert "low" in relay_a.origin_stats(origin_ladder)["rungs"]
    tracks[1].stop()  # the last one: the origin stops relaying and encoding the rung
    await wait_until(lambda: "low" not in relay_a.origin_stats(origin_ladder)["rungs"])
    await wait_until(lambda: not origin_ladder.rung("low").running)
    received = ladder.rung("low").frames_received
    await asyncio.sleep(1.0)
    assert ladder.rung("low").frames_received == received


async def test_the_edge_drops_the_relayed_ladder_when_the_publisher_leaves(two_workers, lesson):
    a, b = two_workers
    teacher, _ = lesson
    ladder = await relayed(b)
    await teacher.close()
    edge = b.app[MEDIA].hub.sessions["s1"]
    await wait_until(lambda: edge.current("video") is None)
    assert ladder.ended


async def test_a_whep_player_on_the_edge_plays_the_relayed_rung(two_workers, lesson):
    a, b = two_workers
    player = WhepPlayer()
    try:
        resp, body = await player.play(b, b.token("wim", "student"), "?rung=low")
        assert resp.status == 201, body
        sample = await player.counters["video"].sample(timeout_s=30)
        assert sample is not None and (sample.width, sample.height) == (852, 480)
        await player.counters["audio"].wait_frames(10, timeout_s=30)
        assert b.app[MEDIA].hub.sessions["s1"].sources == []
    finally:
        await player.close()


async def test_a_delete_reaching_another_worker_ends_the_whep_playback(two_workers, lesson):
    a, b = two_workers
    player = WhepPlayer()
    try:
        token = b.token("wim", "student")
        resp, body = await player.play(b, token, "?rung=low")
        assert resp.status == 201, body
        await player.counters["video"].wait_frames(5, timeout_s=30)
        whep_b = b.app[MEDIA].whep
        assert len(whep_b.resources) == 1
        # SO_REUSEPORT may hand the DELETE to another worker: it is forwarded to the holder.
        assert await delete(a, player.location, token) == 200
        await wait_until(lambda: whep_b.resources == {})
        assert await delete(a, "/whep/s1/never-issued", token) == 404
    finally:
        await player.close()
