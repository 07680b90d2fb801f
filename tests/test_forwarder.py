"""The forwarding sender with real aiortc peers on loopback (server offers, client answers)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender

from rtc_server.media import (
    VIDEO_RUNGS,
    CountingReceiver,
    Ladder,
    SyntheticVideoTrack,
    add_rung_track,
    read_burned_in,
)
from rtc_server.media import gso as gso_module
from rtc_server.media.forwarder import ForwardingSender
from rtc_server.media.viewer_track import ViewerTrack
from rtc_server.patches.ice import restrict_host_addresses
from tests.support.rtp_tap import RtpSeen, tap

FPS = 10
RUNGS = tuple(replace(r, fps=FPS, keyframe_interval_s=60.0) for r in VIDEO_RUNGS)
SIZE_480P = (852, 480)


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    restrict_host_addresses(["127.0.0.1"])
    yield
    restrict_host_addresses([])


@pytest.fixture
async def ladder() -> AsyncIterator[Ladder]:
    ladder = Ladder(SyntheticVideoTrack(1280, 720, FPS), "video", video_rungs=RUNGS)
    ladder.start()
    yield ladder
    await ladder.stop()


@dataclass
class Viewer:
    server: RTCPeerConnection
    client: RTCPeerConnection
    sender: Any
    remote: list[MediaStreamTrack]
    counter: CountingReceiver | None
    seen: list[RtpSeen]


@pytest.fixture
async def viewers() -> AsyncIterator[list[Viewer]]:
    made: list[Viewer] = []
    yield made
    for v in made:
        await v.client.close()
        await v.server.close()


async def connect(track: MediaStreamTrack, made: list[Viewer], *, count: bool = True,
                  drop: Any = None, **options: Any) -> Viewer:
    """A server peer sending ``track`` through add_rung_track; a client that counts
    (or, ``count=False``, decodes) it; every RTP datagram is recorded (``drop`` may eat it)."""
    server, client = RTCPeerConnection(), RTCPeerConnection()
    sender = add_rung_track(server, track, **options)
    remote: list[MediaStreamTrack] = []
    counters: list[CountingReceiver] = []
    seen: list[RtpSeen] = []

    @client.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        remote.append(track)
        if count:
            receiver = next(t.receiver for t in client.getTransceivers()
                            if t.receiver.track is track)
            counters.append(CountingReceiver.attach(receiver))

    await server.setLocalDescription(await server.createOffer())
    await client.setRemoteDescription(server.localDescription)
    await client.setLocalDescription(await client.createAnswer())

    def on_rtp(packet: RtpSeen) -> bool:
        if drop is not None and drop(packet):
            return True
        seen.append(packet)
        return False

    tap(client, on_rtp)
    await server.setRemoteDescription(client.localDescription)
    viewer = Viewer(server, client, sender, remote, counters[0] if counters else None, seen)
    made.append(viewer)
    return viewer


def media(viewer: Viewer) -> list[RtpSeen]:
    return [p for p in viewer.seen if p.ssrc == viewer.sender._ssrc]


async def until(condition: Any, timeout_s: float, what: str) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


async def test_viewer_decodes_every_frame_in_order(ladder, viewers):
    viewer = await connect(await ladder.subscribe("low"), viewers, count=False)
    assert isinstance(viewer.sender, ForwardingSender)
    await until(lambda: viewer.remote, 10, "the remote track")
    counters = []
    first: av.VideoFrame | None = None
    for _ in range(3 * FPS):
        frame = await asyncio.wait_for(viewer.remote[0].recv(), 10)
        assert isinstance(frame, av.VideoFrame)
        first = first or frame
        burned = read_burned_in(frame)
        assert burned is not None, "a decoded frame lost its burned-in code"
        counters.append(burned[0])

    decoded_at = len(counters)
    on_wire = sum(1 for p in media(viewer) if p.marker)
    sent = viewer.sender.frames_sent
    assert first is not None and (first.width, first.height) == SIZE_480P
    assert counters == sorted(counters) and len(set(counters)) == len(counters)
    # Every frame sent arrived and was decoded (but the one or two still on their way). The
    # source counter may skip where the rung's encoder fell behind and took the newest frame.
    assert sent - on_wire <= 2 and on_wire - decoded_at <= 2
    packets = media(viewer)
    seqs = [p.seq for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))


async def test_lost_packets_come_back_as_rtx(ladder, viewers):
    dropped: list[int] = []
    state: dict[str, Any] = {}

    def drop(packet: RtpSeen) -> bool:
        sender = state.get("sender")
        if sender is None or packet.ssrc != sender._ssrc or len(dropped) >= 12:
            return False
        # Not before the receiver has packets: a loss ahead of its first packet is no gap
        # to it, so nothing would be NACKed.
        state["passed"] = state.get("passed", 0) + 1
        if state["passed"] > 20 and packet.seq % 9 == 4:
            # lose every ninth packet of the stream until 12 are gone
            dropped.append(packet.seq)
            return True
        return False

    track = await ladder.subscribe("low")
    viewer = await connect(track, viewers, drop=drop)
    state["sender"] = viewer.sender
    sender: ForwardingSender = viewer.sender
    assert viewer.counter is not None
    await until(lambda: len(dropped) >= 12, 20, "12 dropped packets")
    await viewer.counter.wait_frames(viewer.counter.frames + 2 * FPS, timeout_s=10)

    rtx = [p for p in viewer.seen if p.ssrc == sender._rtx_ssrc]
    assert sender.nacks_received > 0
    assert sender.rtx_sent >= len(dropped) and len(rtx) >= len(dropped)
    # Every frame reached the receiver whole: none was lost, none needed a keyframe.
    assert sender.frames_sent - viewer.counter.frames <= 2
    assert sender.keyframe_requests_received == 0


async def test_pli_from_a_viewer_yields_one_keyframe_per_window(ladder, viewers):
    a = await connect(await ladder.subscribe("low"), viewers)
    b = await connect(await ladder.subscribe("low"), viewers)
    for v in (a, b):
        assert v.counter is not None
        await v.counter.wait_frames(5, timeout_s=15)
    rung = ladder.rung("low")
    forced_before = rung.keyframes_forced
    assert b.counter is not None
    keyframes_before = b.counter.keyframes

    receiver = a.client.getTransceivers()[0].receiver
    for _ in range(20):  # 20 real PLIs over 2 s
        await receiver._send_rtcp_pli(a.sender._ssrc)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)

    assert a.sender.keyframe_requests_received >= 15
    assert 2 <= rung.keyframes_forced - forced_before <= 6  # one per 0.5 s, not 20
    assert b.counter.keyframes - keyframes_before <= 6


async def test_sender_reports_let_the_server_measure_rtt(ladder, viewers):
    viewer = await connect(await ladder.subscribe("low"), viewers)
    sender: ForwardingSender = viewer.sender
    await until(lambda: sender.rtt_s is not None, 15, "a round-trip time")

    client_stats = await viewer.client.getTransceivers()[0].receiver.getStats()
    remote_out = [s for s in client_stats.values() if s.type == "remote-outbound-rtp"]
    assert remote_out and remote_out[0].packetsSent > 0  # the client got our SR
    server_stats = await sender.getStats()
    inbound = [s for s in server_stats.values() if s.type == "remote-inbound-rtp"]
    assert inbound and inbound[0].roundTripTime is not None
    assert 0 < inbound[0].roundTripTime < 1.0
    outbound = [s for s in server_stats.values() if s.type == "outbound-rtp"]
    assert outbound[0].packetsSent == sender.packets_sent > 0


async def test_a_report_sent_now_holds_the_periodic_ones_back(ladder, viewers):
    # A probe window closes: its sender report must be the one the receiver's next
    # reports refer to, so the periodic report (every 0.5-1.5 s) waits.
    viewer = await connect(await ladder.subscribe("low"), viewers)
    sender: ForwardingSender = viewer.sender
    receiver = viewer.client.getTransceivers()[0].receiver

    async def last_report() -> Any:
        stats = await receiver.getStats()
        return next((s.timestamp for s in stats.values() if s.type == "remote-outbound-rtp"),
                    None)

    async with asyncio.timeout(10):
        while (before := await last_report()) is None:
            await asyncio.sleep(0.05)
    sender.report_now(2.0)
    async with asyncio.timeout(1):
        while (sent_now := await last_report()) == before:
            await asyncio.sleep(0.02)
    for _ in range(30):  # 1.5 s: without the hold at least one periodic report comes
        await asyncio.sleep(0.05)
        assert await last_report() == sent_now, "a periodic report within the hold"
    async with asyncio.timeout(3):  # and they resume after it
        while await last_report() == sent_now:
            await asyncio.sleep(0.05)


async def until_frame_size(counter: CountingReceiver, size: tuple[int, int]) -> None:
    async with asyncio.timeout(10):
        while counter.frame_size != size:
            await counter.wait_frames(counter.frames + 1, 10)


async def test_ladder_change_keeps_one_continuous_stream(viewers):
    first = Ladder(SyntheticVideoTrack(1280, 720, FPS), "video", video_rungs=RUNGS)
    second = Ladder(SyntheticVideoTrack(640, 480, FPS), "video", video_rungs=RUNGS)
    track = ViewerTrack("video", "low", name="viewer")
    try:
        await track.attach(first)
        viewer = await connect(track, viewers)
        assert viewer.counter is not None
        await viewer.counter.wait_frames(FPS, timeout_s=15)
        assert viewer.counter.frame_size == SIZE_480P

        # A rung switch within the ladder (on the medium rung's first keyframe) ...
        assert track.set_rung("medium") == "medium"
        await until_frame_size(viewer.counter, (1280, 720))
        assert track.rung == "medium"
        await viewer.counter.wait_frames(viewer.counter.frames + FPS, timeout_s=10)

        # ... then another ladder (e.g. the teacher starts a screen share; 480p: one rung)
        await track.attach(second)
        await until_frame_size(viewer.counter, (640, 480))
        await viewer.counter.wait_frames(viewer.counter.frames + FPS, timeout_s=10)
    finally:
        track.stop()
        await first.stop()
        await second.stop()

    packets = media(viewer)
    seqs = [p.seq for p in packets]
    stamps = [p.timestamp for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all(0 <= (b - a) % 2**32 < 2**31 for a, b in zip(stamps, stamps[1:], strict=False))
    assert viewer.counter.max_gap_s < 2.0  # the viewer saw no long freeze


async def test_gso_refused_falls_back_to_one_datagram_each(ladder, viewers, monkeypatch):
    calls = []

    def refuse(*args: Any) -> None:
        calls.append(args)
        raise gso_module.GsoUnavailable(errno.EIO, "refused for the test")

    monkeypatch.setattr(gso_module, "send_segments", refuse)
    monkeypatch.setattr(gso_module, "gso_available", lambda: True)
    monkeypatch.setattr(ForwardingSender, "use_gso_default", True)
    viewer = await connect(await ladder.subscribe("low"), viewers)
    assert viewer.counter is not None
    await viewer.counter.wait_frames(2 * FPS, timeout_s=15)

    sender: ForwardingSender = viewer.sender
    assert calls, "GSO was never tried"
    assert sender.use_gso is False and sender.gso_calls == 0
    assert sender.send_calls >= sender.packets_sent  # one datagram per call
    sent = sender.packets_sent
    await viewer.counter.wait_frames(viewer.counter.frames + 3, timeout_s=5)
    assert len(media(viewer)) >= sent  # and all of them arrived


@pytest.mark.skipif(not gso_module.gso_available(), reason="kernel without UDP GSO")
async def test_gso_sends_a_frame_in_one_call(ladder, viewers):
    viewer = await connect(await ladder.subscribe("low"), viewers)
    assert viewer.counter is not None
    await viewer.counter.wait_frames(2 * FPS, timeout_s=15)
    sender: ForwardingSender = viewer.sender
    assert sender.gso_calls > 0
    assert sender.send_calls < sender.packets_sent / 3  # a 480p frame is several packets
    sizes = {p.size for p in media(viewer) if not p.marker}
    assert len(sizes) == 1  # the kernel cut the segments: same size but each frame's last


async def test_forwarder_can_be_switched_off(ladder, viewers):
    viewer = await connect(await ladder.subscribe("low"), viewers, forward=False)
    assert type(viewer.sender) is RTCRtpSender
    assert viewer.counter is not None
    await viewer.counter.wait_frames(FPS, timeout_s=15)
    assert viewer.counter.keyframe_sizes[0] == SIZE_480P


async def test_full_socket_buffer_keeps_the_rest_in_order(ladder, viewers, monkeypatch):
    real = gso_module.send_segments
    calls = {"n": 0}

    def sometimes_full(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] % 2 == 0:  # every other call: the kernel's buffer is full
            raise BlockingIOError(errno.EAGAIN, "full for the test")
        real(*args)

    monkeypatch.setattr(gso_module, "send_segments", sometimes_full)
    monkeypatch.setattr(gso_module, "gso_available", lambda: True)
    monkeypatch.setattr(ForwardingSender, "use_gso_default", True)
    viewer = await connect(await ladder.subscribe("low"), viewers)
    assert viewer.counter is not None
    await viewer.counter.wait_frames(2 * FPS, timeout_s=15)

    sender: ForwardingSender = viewer.sender
    assert calls["n"] >= 4 and sender.use_gso  # a full buffer is not a refusal
    sent = sender.packets_sent
    await viewer.counter.wait_frames(viewer.counter.frames + 3, timeout_s=5)
    seqs = [p.seq for p in media(viewer)]
    assert len(seqs) >= sent  # nothing lost, nothing sent twice, in order
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert sender.keyframe_requests_received == 0


async def test_an_unreachable_viewer_loses_datagrams_without_a_traceback(ladder, viewers,
                                                                         monkeypatch, caplog):
    failing = {"on": False}
    real = gso_module.send_segments

    def send(sock: Any, data: Any, segment: int, addr: Any) -> None:
        if failing["on"]:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        real(sock, data, segment, addr)

    monkeypatch.setattr(gso_module, "send_segments", send)
    viewer = await connect(await ladder.subscribe("low"), viewers)
    assert viewer.counter is not None
    await viewer.counter.wait_frames(FPS, timeout_s=15)
    sender: ForwardingSender = viewer.sender
    sock = sender._route.sock if sender._route is not None else None
    assert sock is not None, "the forwarder sends on its own socket here"

    class Unreachable:
        """The socket as a vanished route leaves it: every send fails."""

        def sendto(self, *args: Any) -> None:
            raise OSError(errno.ENETUNREACH, "Network is unreachable")

        def close(self) -> None:
            sock.close()

    sender._route.sock = Unreachable()  # type: ignore[union-attr,assignment]
    failing["on"] = True
    frames = sender.frames_sent
    await until(lambda: sender.frames_sent >= frames + FPS, 15, "frames go on being sent")
    assert sender.send_errors >= FPS
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
