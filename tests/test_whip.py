"""WHIP ingest with a real aiortc publisher on loopback, watched by a real aiortc viewer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.app import create_app
from signaling.keys import CLASSROOM, MEDIA
from signaling.tokens import mint_token
from tests.support.cluster import start_cluster, stop_cluster
from tests.support.server import SECRET, Harness, server_config

SDP = "application/sdp"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def wait_until(predicate, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.fixture
async def server(aiohttp_server):
    app = create_app(server_config())
    harness = Harness(await aiohttp_server(app))
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Art")
    yield harness
    await harness.close()


class Publisher:
    """A WHIP client: an aiortc peer connection that only sends, like an encoder."""

    def __init__(self, *, video: bool = True, audio: bool = False) -> None:
        self.pc = RTCPeerConnection()
        # 640x480 at 10 fps: enough to see frames, cheap on a loaded machine.
        if video:
            self.pc.addTransceiver(SyntheticVideoTrack(640, 480, 10), direction="sendonly")
        if audio:
            self.pc.addTransceiver(SyntheticAudioTrack(), direction="sendonly")

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.pc.close()


@pytest.fixture
async def publishers():
    made: list[Publisher] = []

    def make(**kwargs) -> Publisher:
        made.append(Publisher(**kwargs))
        return made[-1]

    yield make
    for publisher in made:
        await publisher.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_offer(
    server: Harness, sdp: str, token: str | None, *, session: str = "s1", content_type: str = SDP
) -> tuple[aiohttp.ClientResponse, str]:
    headers = {"Content-Type": content_type, **(bearer(token) if token else {})}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/whip/{session}", data=sdp, headers=headers) as resp,
    ):
        return resp, await resp.text()


async def test_whip_publish_reaches_viewers_and_delete_ends_it(server: Harness, publishers):
    viewer = await server.client("stu", media=True)
    publisher = publishers(video=True, audio=True)
    token = server.token("teacher", "teacher")
    resp, answer = await post_offer(server, await publisher.offer(), token)

    assert resp.status == 201, answer
    assert resp.content_type == SDP
    location = resp.headers["Location"]
    assert location.startswith("/whip/s1/")
    assert resp.headers["ETag"]
    assert "a=candidate:" in answer  # no trickle: every server candidate is in the answer
    await publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    media = server.app[MEDIA].hub.sessions["s1"]
    resource_id = location.rsplit("/", 1)[1]
    assert {(s.origin, s.role) for s in media.sources} == {
        (f"whip:{resource_id}", "camera"),
        (f"whip:{resource_id}", "microphone"),
    }
    event = await viewer.next_event("media.state")
    assert event["payload"]["video"] is True
    video = viewer.counters["video"]
    await wait_until(lambda: video.frames >= 5 and video.frame_size == (640, 480))
    assert viewer.counters["audio"].frames > 0

    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.delete(f"{server.url}{location}") as deleted:
            assert deleted.status == 200
        async with http.delete(f"{server.url}{location}") as again:
            assert again.status == 200  # it ended already: done (not 404)
    assert media.sources == []
    assert resource_id not in server.app[MEDIA].whip.resources
    await asyncio.sleep(0.5)  # packets already in flight may still land
    frames = video.frames
    await asyncio.sleep(1.5)
    assert video.frames == frames  # nothing new reaches the viewer
    await wait_until(lambda: publisher.pc.connectionState in ("closed", "failed"), timeout=40)


async def test_whip_publisher_closing_its_connection_unpublishes(server: Harness, publishers):
    publisher = publishers()
    resp, answer = await post_offer(server, await publisher.offer(), SECRET)  # the API secret
    assert resp.status == 201, answer
    await publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    media = server.app[MEDIA].hub.sessions["s1"]
    ladder = media.current("video")
    await wait_until(lambda: ladder.source_size == (640, 480))
    await publisher.close()
    await wait_until(lambda: media.sources == [] and not server.app[MEDIA].whip.resources, timeout=40)


async def test_whip_delete_after_the_connection_closed_is_done(server: Harness, publishers):
    publisher = publishers()
    token = server.token("teacher", "teacher")
    resp, answer = await post_offer(server, await publisher.offer(), token)
    assert resp.status == 201, answer
    location = resp.headers["Location"]
    await publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    whip = server.app[MEDIA].whip
    await wait_until(lambda: any(r.connected.is_set() for r in whip.resources.values()))
    await publisher.close()  # the encoder went away first, then cleans up
    await wait_until(lambda: not whip.resources, timeout=40)
    async with aiohttp.ClientSession(headers=bearer(token)) as http:
        async with http.delete(f"{server.url}{location}") as resp:
            assert resp.status == 200
        # The same id under another session is not this resource.
        other = location.replace("/whip/s1/", "/whip/s2/")
        async with http.delete(f"{server.url}{other}",
                               headers=bearer(SECRET)) as resp:
            assert resp.status == 404


async def _start_killable_publisher(server: Harness, size: str):
    """A WHIP publisher in a subprocess; returns it once it is connected."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.whip_publisher", f"{server.url}/whip/s1",
        server.token("encoder", "teacher"), "--size", size,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )
    lines = []
    async with asyncio.timeout(40):
        while not lines or lines[-1] != "connected":
            line = (await proc.stdout.readline()).decode().strip()
            assert line, f"publisher exited ({await proc.wait()}) after {lines}"
            lines.append(line)
    return proc, lines[0].split()[1]


async def test_whip_killed_publisher_is_dropped_and_the_newest_publisher_wins(
    server: Harness, publishers
):
    viewer = await server.client("stu", media=True)
    video = viewer.counters["video"]
    media = server.app[MEDIA].hub.session("s1")
    whip = server.app[MEDIA].whip
    old, old_location = await _start_killable_publisher(server, "320x240@10")
    try:
        await wait_until(lambda: video.frame_size == (320, 240), timeout=30)
        # A newer publisher (a restarted encoder) takes over while the old one still sends.
        newer = publishers()
        resp, answer = await post_offer(server, await newer.offer(), SECRET)
        assert resp.status == 201, answer
        await newer.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        new_origin = "whip:" + resp.headers["Location"].rsplit("/", 1)[1]
        assert [s.origin for s in media.sources if s.ladder is media.current("video")] == [
            new_origin]
        await wait_until(lambda: video.frame_size == (640, 480))  # the viewer sees the newer
        old_id = old_location.rsplit("/", 1)[1]
        assert old_id in whip.resources
        old.kill()  # no DELETE, no DTLS close: only its RTP stops
        await old.wait()
        killed_at = asyncio.get_running_loop().time()
        # ICE consent would take ~35 s; the media watchdog drops it after ~3 s of silence.
        await wait_until(lambda: old_id not in whip.resources, timeout=20)
        dropped_after_s = asyncio.get_running_loop().time() - killed_at
        assert dropped_after_s < 20
        print(f"killed publisher dropped after {dropped_after_s:.1f} s")
        assert {s.origin for s in media.sources} == {new_origin}
        frames = video.frames
        await wait_until(lambda: video.frames > frames + 5)  # the newer one still plays
        async with aiohttp.ClientSession(headers=bearer(SECRET)) as http:
            async with http.delete(f"{server.url}{old_location}") as resp:
                assert resp.status == 200  # the encoder's late cleanup: done
    finally:
        if old.returncode is None:
            old.kill()
            await old.wait()


async def test_whip_live_publisher_survives_a_server_starved_of_cpu(tmp_path):
    # The server as deployed (its own process, on uvloop), stopped for longer than the
    # silence limit, as a process starved of CPU is: the publisher's packets wait in the
    # socket meanwhile, and must not be taken for a publisher that went away.
    cluster = await start_cluster(tmp_path, "--log-level", "info", workers=None)
    publisher = None
    try:
        await cluster.wait_workers({"0"})
        async with aiohttp.ClientSession(headers=bearer(SECRET)) as http:
            async with http.post(f"{cluster.url}/api/sessions",
                                 json={"session_id": "s1", "teacher_id": "t"}) as resp:
                assert resp.status == 201
        token = mint_token(SECRET, session_id="s1", user_id="enc", name="enc", role="teacher",
                           ttl_s=600)[0]
        publisher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.whip_publisher", f"{cluster.url}/whip/s1",
            token, "--size", "320x240@15", stdout=asyncio.subprocess.PIPE, cwd=ROOT)
        lines: list[str] = []
        async with asyncio.timeout(40):
            while "connected" not in lines:
                line = (await publisher.stdout.readline()).decode().strip()
                assert line, f"publisher exited: {lines}"
                lines.append(line)
        await asyncio.sleep(2.0)  # media flows
        os.kill(cluster.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(4.5)
        os.kill(cluster.proc.pid, signal.SIGCONT)
        with contextlib.suppress(TimeoutError):  # nothing more to read: still connected
            line = await asyncio.wait_for(publisher.stdout.readline(), 4.0)
            assert not line, f"the server ended a live publisher: {line!r}"
        assert "no RTP for" not in cluster.log()
    finally:
        if publisher is not None and publisher.returncode is None:
            publisher.kill()
            await publisher.wait()
        await stop_cluster(cluster)


async def test_whip_publisher_whose_media_stops_is_dropped(server: Harness):
    viewer = await server.client("stu", media=True)
    whip = server.app[MEDIA].whip
    proc, location = await _start_killable_publisher(server, "320x240@10")
    try:
        await viewer.next_event("media.state")
        await wait_until(lambda: viewer.counters["video"].frames > 3, timeout=30)
        proc.kill()
        await proc.wait()
        event = await viewer.next_event("media.state", timeout=20)  # well before ICE consent
        assert event["payload"]["video"] is False
        assert whip.resources == {}
        assert location.rsplit("/", 1)[1] in whip.ended
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_whip_shutdown_closes_every_publisher(server: Harness, publishers):
    publisher = publishers()
    resp, answer = await post_offer(
        server, await publisher.offer(), server.token("teacher", "teacher")
    )
    assert resp.status == 201, answer
    await publisher.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    whip = server.app[MEDIA].whip
    (resource,) = whip.resources.values()
    await whip.close()
    assert whip.resources == {}
    assert resource.peer.pc.connectionState == "closed"
    assert server.app[MEDIA].hub.sessions["s1"].sources == []
    resp, _ = await post_offer(server, await publishers().offer(), SECRET)
    assert resp.status == 422  # refused while shutting down


@pytest.mark.parametrize("credential", ["none", "forged", "expired"])
async def test_whip_without_a_valid_token_is_401(server: Harness, publishers, credential):
    token = {
        "none": None,
        "forged": server.token("teacher", "teacher", secret="another-secret-" + "x" * 24),
        "expired": server.token("teacher", "teacher", ttl_s=60, now_s=1_000_000),
    }[credential]
    resp, body = await post_offer(server, await publishers().offer(), token)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.content_type == "application/json"
    assert (
        json.loads(body)["error"]["code"]
        == {"none": "token_missing", "forged": "token_invalid", "expired": "token_expired"}[
            credential
        ]
    )
    assert server.app[MEDIA].whip.resources == {}


async def test_whip_student_or_other_sessions_teacher_is_403(server: Harness, publishers):
    offer = await publishers().offer()
    student, _ = await post_offer(server, offer, server.token("stu", "student"))
    other, body = await post_offer(server, offer, server.token("t2", "teacher", session="s2"))
    assert student.status == 403 and other.status == 403
    assert "s2" in json.loads(body)["error"]["message"]
    assert server.app[MEDIA].whip.resources == {}


async def test_whip_wrong_content_type_is_415(server: Harness, publishers):
    resp, body = await post_offer(
        server,
        await publishers().offer(),
        server.token("teacher", "teacher"),
        content_type="application/json",
    )
    assert resp.status == 415
    assert "application/sdp" in json.loads(body)["error"]["message"]


async def test_whip_bad_offers_are_400_naming_the_problem(server: Harness, publishers):
    token = server.token("teacher", "teacher")
    garbage, body = await post_offer(server, "hello, I am not SDP", token)
    assert garbage.status == 400
    assert "v=0" in json.loads(body)["error"]["message"]

    data_only = RTCPeerConnection()
    data_only.createDataChannel("x")
    await data_only.setLocalDescription(await data_only.createOffer())
    no_media, body = await post_offer(server, data_only.localDescription.sdp, token)
    await data_only.close()
    assert no_media.status == 400
    assert "no audio or video" in json.loads(body)["error"]["message"]

    receive_only = RTCPeerConnection()
    receive_only.addTransceiver("video", direction="recvonly")
    await receive_only.setLocalDescription(await receive_only.createOffer())
    recv, body = await post_offer(server, receive_only.localDescription.sdp, token)
    await receive_only.close()
    assert recv.status == 400
    assert "sendonly" in json.loads(body)["error"]["message"]
    assert server.app[MEDIA].whip.resources == {}
    assert not server.app[MEDIA].hub.sessions.get("s1") or not server.app[MEDIA].hub.sessions["s1"].sources


async def test_whip_unknown_or_ended_session_is_404_or_410(server: Harness, publishers):
    offer = await publishers().offer()
    missing, _ = await post_offer(server, offer, SECRET, session="nope")
    assert missing.status == 404
    await server.app[CLASSROOM].create_session(session_id="done", teacher_id="t")
    async with aiohttp.ClientSession(headers=bearer(SECRET)) as http:
        async with http.post(f"{server.url}/api/sessions/done/end") as resp:
            assert resp.status == 200
    ended, _ = await post_offer(server, offer, SECRET, session="done")
    assert ended.status == 410


async def test_whip_delete_unknown_404_patch_405_options_204(server: Harness):
    async with aiohttp.ClientSession() as http:
        async with http.delete(
            f"{server.url}/whip/s1/nope", headers=bearer(server.token("teacher", "teacher"))
        ) as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "whip_resource_not_found"
        async with http.delete(
            f"{server.url}/whip/s1/nope", headers=bearer(server.token("stu", "student"))
        ) as resp:
            assert resp.status == 403
        async with http.patch(
            f"{server.url}/whip/s1/nope",
            data="a=candidate:1 1 udp 1 x 9 typ host",
            headers={"Content-Type": "application/trickle-ice-sdpfrag"},
        ) as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "DELETE, OPTIONS"
        async with http.options(
            f"{server.url}/whip/s1",
            headers={
                "Origin": "https://studio.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        ) as resp:
            assert resp.status == 204
            assert resp.headers["Accept-Post"] == SDP
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in resp.headers["Access-Control-Allow-Methods"]
            assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
            assert "Location" in resp.headers["Access-Control-Expose-Headers"]
