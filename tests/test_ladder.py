"""The encode-once ladder with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import pytest
from aiortc import RTCPeerConnection, RTCRtpSender

from rtc_server.media import (
    VIDEO_RUNGS,
    CountingReceiver,
    EncodedPacket,
    Ladder,
    RungTrack,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    add_rung_track,
)
from rtc_server.patches.ice import restrict_host_addresses

FPS = 10
# Long natural keyframe interval: any keyframe seen within a test was forced.
RUNGS = tuple(replace(r, fps=FPS, keyframe_interval_s=60.0) for r in VIDEO_RUNGS)
SIZE_720P = (1280, 720)
SIZE_480P = (852, 480)  # 1280 * 480 / 720 rounded down to even


@dataclass
class Subscriber:
    server: RTCPeerConnection
    client: RTCPeerConnection
    track: RungTrack
    sender: RTCRtpSender
    counter: CountingReceiver


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    restrict_host_addresses(["127.0.0.1"])
    yield
    restrict_host_addresses([])


@pytest.fixture
async def ladder() -> AsyncIterator[Ladder]:
    ladder = Ladder(SyntheticVideoTrack(*SIZE_720P, FPS), "video", video_rungs=RUNGS)
    ladder.start()
    yield ladder
    await ladder.stop()


@pytest.fixture
async def subscribers() -> AsyncIterator[list[Subscriber]]:
    subs: list[Subscriber] = []
    yield subs
    for sub in subs:
        await sub.client.close()
        await sub.server.close()


async def subscribe(ladder: Ladder, rung: str, subs: list[Subscriber]) -> Subscriber:
    """Server offers the rung track, a counting client answers."""
    server, client = RTCPeerConnection(), RTCPeerConnection()
    track = await ladder.subscribe(rung)
    sender = add_rung_track(server, track)
    counters: list[CountingReceiver] = []

    @client.on("track")
    def on_track(remote) -> None:
        receiver = next(t.receiver for t in client.getTransceivers() if t.receiver.track is remote)
        counters.append(CountingReceiver.attach(receiver))

    await server.setLocalDescription(await server.createOffer())
    await client.setRemoteDescription(server.localDescription)
    await client.setLocalDescription(await client.createAnswer())
    await server.setRemoteDescription(client.localDescription)
    sub = Subscriber(server, client, track, sender, counters[0])
    subs.append(sub)
    return sub


async def wait_for_size(counter: CountingReceiver, size: tuple[int, int], timeout_s: float):
    async with asyncio.timeout(timeout_s):
        while counter.frame_size != size:
            await counter.wait_frames(counter.frames + 1, timeout_s)


async def test_subscribers_receive_frames_of_their_rung(ladder, subscribers):
    medium = await subscribe(ladder, "medium", subscribers)
    low = await subscribe(ladder, "low", subscribers)
    high = await subscribe(ladder, "high", subscribers)  # above the 720p source

    for sub in (medium, low, high):
        await sub.counter.wait_frames(FPS, timeout_s=15)

    assert ladder.offered() == ["medium", "low"]
    assert high.track.rung == "medium"
    assert medium.counter.keyframe_sizes[0] == SIZE_720P
    assert high.counter.keyframe_sizes[0] == SIZE_720P
    assert low.counter.keyframe_sizes[0] == SIZE_480P
    assert ladder.active_encoders == 2
    assert not ladder.rung("high").running
    sampling = asyncio.create_task(low.counter.sample(timeout_s=5))
    await asyncio.sleep(0)  # the sample waits for the next keyframe, which we ask for
    low.track.request_keyframe()
    sample = await sampling
    assert sample is not None and (sample.width, sample.height) == SIZE_480P
    assert 0 <= sample.latency_ms < 2000


async def test_subscribers_on_one_rung_share_one_encoder(ladder, subscribers):
    first = await subscribe(ladder, "low", subscribers)
    await first.counter.wait_frames(5, timeout_s=15)
    rung = ladder.rung("low")
    assert (rung.encoder_starts, ladder.active_encoders) == (1, 1)

    others = [await subscribe(ladder, "low", subscribers) for _ in range(2)]
    for sub in others:
        await sub.counter.wait_frames(5, timeout_s=15)

    assert (rung.encoder_starts, ladder.active_encoders, rung.listener_count) == (1, 1, 3)
    received = sum(s.counter.frames for s in [first, *others])
    assert rung.frames_encoded < received  # the same packets reached several peers


async def test_rung_switch_delivers_keyframe_at_new_size(ladder, subscribers):
    sub = await subscribe(ladder, "low", subscribers)
    await sub.counter.wait_frames(FPS, timeout_s=15)
    assert sub.counter.frame_size == SIZE_480P
    keyframes_before = sub.counter.keyframes

    assert sub.track.set_rung("medium") == "medium"
    await wait_for_size(sub.counter, SIZE_720P, timeout_s=5)
    frames_at_switch = sub.counter.frames
    await sub.counter.wait_frames(frames_at_switch + FPS, timeout_s=5)

    assert sub.counter.keyframes == keyframes_before + 1
    assert sub.track.rung == "medium" and sub.track.switches == 1
    assert not ladder.rung("low").running  # its only subscriber moved away
    assert sub.counter.max_gap_s < 1.0  # no freeze across the switch


async def test_last_subscriber_leaving_stops_idle_encoder(ladder, subscribers):
    stay = await subscribe(ladder, "medium", subscribers)
    leave = await subscribe(ladder, "low", subscribers)
    await leave.counter.wait_frames(5, timeout_s=15)
    assert ladder.active_encoders == 2

    await leave.server.close()  # the sender stops its track

    assert not ladder.rung("low").running
    assert ladder.rung("medium").running
    encoded = ladder.rung("low").frames_encoded
    frames = stay.counter.frames
    await asyncio.sleep(0.5)
    assert ladder.rung("low").frames_encoded == encoded
    assert stay.counter.frames > frames


async def test_pli_from_receivers_is_rate_limited_per_rung(ladder, subscribers):
    a = await subscribe(ladder, "low", subscribers)
    b = await subscribe(ladder, "low", subscribers)
    for sub in (a, b):
        await sub.counter.wait_frames(5, timeout_s=15)
    rung = ladder.rung("low")
    forced_before, keyframes_before = rung.keyframes_forced, b.counter.keyframes

    # Real RTCP PLIs from a's receiver, 20 of them over 2 s.
    receiver = a.client.getTransceivers()[0].receiver
    for _ in range(20):
        await receiver._send_rtcp_pli(a.sender._ssrc)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)

    forced = rung.keyframes_forced - forced_before
    assert a.track.keyframe_requests >= 15  # most of the PLIs arrived
    # 2.3 s at most one forced keyframe per 0.5 s: 5, not 20.
    assert 2 <= forced <= 6
    assert b.counter.keyframes - keyframes_before <= 6  # the bystander was spared too


async def test_audio_ladder_shares_one_opus_encoder_per_rung(subscribers):
    ladder = Ladder(SyntheticAudioTrack(), "audio")
    try:
        low = await subscribe(ladder, "low", subscribers)
        high = await subscribe(ladder, "high", subscribers)
        for sub in (low, high):
            await sub.counter.wait_frames(25, timeout_s=15)

        assert low.counter.mime_type == high.counter.mime_type == "audio/opus"
        assert ladder.active_encoders == 2
        stats = ladder.stats()["rungs"]
        assert stats["high"]["bytes_encoded"] > 1.2 * stats["low"]["bytes_encoded"]
    finally:
        await ladder.stop()


def packet(pts: int, key: bool = False) -> EncodedPacket:
    return EncodedPacket(b"\x00" * 10, pts, fractions.Fraction(1, 90000), is_keyframe=key)


async def test_timestamps_never_go_backwards_across_switch(ladder):
    track = await ladder.subscribe("low")
    low, medium = ladder.rung("low"), ladder.rung("medium")
    track._deliver(low, packet(90000, key=True))
    track._deliver(low, packet(93000))
    track.set_rung("medium")
    track._deliver(medium, packet(30000))  # not a keyframe: ignored
    track._deliver(medium, packet(33000, key=True))  # a rung whose clock is behind
    track._deliver(medium, packet(36000))

    pts = [(await track.recv()).pts for _ in range(4)]
    track.stop()

    assert pts == sorted(set(pts))
    assert track.rung == "medium"


async def test_slow_subscriber_drops_to_next_keyframe(ladder):
    track = await ladder.subscribe("low")
    rung = ladder.rung("low")
    track._deliver(rung, packet(0, key=True))
    requests = rung.keyframe_requests
    for i in range(1, 40):  # nobody reads: the queue (30) overflows
        track._deliver(rung, packet(3000 * i))

    assert track.stats()["queued"] < 30
    assert rung.keyframe_requests == requests + 1
    track._deliver(rung, packet(200_000))  # still waiting for a keyframe
    track._deliver(rung, packet(203_000, key=True))
    queued = [await track.recv() for _ in range(track.stats()["queued"])]
    track.stop()

    assert queued[-1].is_keyframe and len(queued) <= 10
