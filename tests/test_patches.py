"""The aiortc/aioice/pylibsrtp workarounds: the version gate, each patch doing what it says."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpParameters,
    RTCRtpReceiveParameters,
)
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)
from aiortc.sdp import SessionDescription
from pylibsrtp import Policy, Session

from rtc_server import patches
from rtc_server.media import add_rung_track
from rtc_server.media.forwarder import ForwardingSender
from rtc_server.media.viewer_track import ViewerTrack
from rtc_server.patches import (
    advertise_address,
    can_pad,
    capture_remb,
    divert_encoded_frames,
    end_withdrawn_tracks,
    limit_retransmissions,
    pace_sender,
    paced_bytes,
    restrict_host_addresses,
    route_keyframe_requests,
    send_padding,
    start_media_negotiated_during_handshake,
    versions,
)
from rtc_server.patches import sctp as sctp_patch
from rtc_server.patches.rtp_forwarding import (
    SRTP_TRAILER_BYTES,
    SrtpWriter,
    buffer_pointer,
    forwarding_supported,
    install_sender,
    loop_events,
    udp_route,
)


class _CountingTrack(VideoStreamTrack):
    def __init__(self) -> None:
        super().__init__()
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1


def test_versions_here_are_the_tested_ones() -> None:
    assert versions.untested() == []
    assert versions.supported("anything")


async def test_an_untested_version_turns_every_patch_off(monkeypatch, caplog) -> None:
    monkeypatch.setitem(versions.TESTED, "aiortc", ("0.9.",))
    caplog.set_level(logging.WARNING)
    assert not versions.supported("rtp_sender.keyframes")
    assert "patch rtp_sender.keyframes not applied" in caplog.text
    assert "aiortc" in caplog.text

    pc = RTCPeerConnection()
    try:
        track = _CountingTrack()
        sender = pc.addTrack(track)
        route_keyframe_requests(sender, track)
        assert sender._send_keyframe != track.request_keyframe  # left alone
    finally:
        await pc.close()


async def test_an_untested_pylibsrtp_gives_viewers_aiortcs_sender(monkeypatch, caplog) -> None:
    # The forwarder protects through pylibsrtp's private binding and Session._srtp.
    real = versions.installed
    monkeypatch.setattr(versions, "installed",
                        lambda dist: "1.1.0" if dist == "pylibsrtp" else real(dist))
    caplog.set_level(logging.WARNING)
    assert versions.untested() == ["pylibsrtp 1.1.0"]
    assert not forwarding_supported()
    assert "pylibsrtp 1.1.0" in caplog.text

    pc = RTCPeerConnection()
    try:
        sender = add_rung_track(pc, ViewerTrack("video", "low"))
        assert not isinstance(sender, ForwardingSender)
    finally:
        await pc.close()


def test_restrict_host_addresses_chooses_the_gathered_addresses() -> None:
    original = aioice.ice.get_host_addresses
    try:
        restrict_host_addresses(["127.0.0.1", "::1"])
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1",
                                                                              "::1"]
        restrict_host_addresses([])
        assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    finally:
        aioice.ice.get_host_addresses = original


def test_advertise_address_rewrites_only_host_candidates() -> None:
    sdp = ("a=candidate:1 1 udp 2130706431 10.0.0.5 50000 typ host\r\n"
           "a=candidate:2 1 udp 1694498815 1.2.3.4 50000 typ srflx raddr 10.0.0.5 rport 50000\r\n")
    out = advertise_address(sdp, "203.0.113.9")
    assert "203.0.113.9 50000 typ host" in out
    assert "1.2.3.4 50000 typ srflx" in out
    assert advertise_address(sdp, None) == sdp


async def test_pli_reaches_the_track_and_remb_reaches_the_callback() -> None:
    pc = RTCPeerConnection()
    try:
        track = _CountingTrack()
        sender: RTCRtpSender = pc.addTrack(track)
        route_keyframe_requests(sender, track)
        rembs: list[float] = []
        capture_remb(sender, rembs.append)
        # The RTCP a receiver sends, fed to the sender's own handler (as the DTLS
        # transport does): a PLI, then a REMB of 750 kbps.
        await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1,
                                                        media_ssrc=sender._ssrc))
        await sender._handle_rtcp_packet(RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(750_000, [sender._ssrc])))
        assert track.keyframe_requests == 1
        assert rembs == [750_000.0]
    finally:
        await pc.close()


async def test_route_keyframe_requests_refuses_another_track() -> None:
    pc = RTCPeerConnection()
    try:
        sender = pc.addTrack(VideoStreamTrack())
        with pytest.raises(ValueError, match="does not carry this track"):
            route_keyframe_requests(sender, _CountingTrack())
    finally:
        await pc.close()


async def test_withdrawn_tracks_end_after_a_renegotiation() -> None:
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        got = []
        receiver_pc.on("track", got.append)
        transceiver = sender_pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        assert got and got[0].readyState == "live"
        # The sender stops sending on that m-line: the next offer says "inactive".
        transceiver.direction = "inactive"
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        offer = sender_pc.localDescription
        await receiver_pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        assert got[0].readyState == "live"  # aiortc 1.16 leaves it live: the limitation
        end_withdrawn_tracks(receiver_pc, SessionDescription.parse(offer.sdp))
        assert got[0].readyState == "ended"
    finally:
        await sender_pc.close()
        await receiver_pc.close()


async def test_sctp_patches_apply_once_and_data_channels_still_deliver_in_order() -> None:
    from aiortc import rtcsctptransport

    sctp_patch.apply()
    patched = rtcsctptransport.RTCSctpTransport._data_channel_send
    sctp_patch.apply()  # idempotent
    assert rtcsctptransport.RTCSctpTransport._data_channel_send is patched
    assert sctp_patch.applied()

    restrict_host_addresses(["127.0.0.1"])
    a, b = RTCPeerConnection(), RTCPeerConnection()
    try:
        channel = a.createDataChannel("events")
        received: list[str] = []
        done = asyncio.Event()

        @b.on("datachannel")
        def on_channel(remote) -> None:
            @remote.on("message")
            def on_message(message: str) -> None:
                received.append(message)
                if len(received) == 500:
                    done.set()

        opened = asyncio.Event()
        channel.on("open", opened.set)
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        await asyncio.wait_for(opened.wait(), 10)
        for i in range(500):
            channel.send(f"m{i}")  # eager flush: no Task per send, order kept
        await asyncio.wait_for(done.wait(), 10)
        assert received == [f"m{i}" for i in range(500)]
    finally:
        await a.close()
        await b.close()
        restrict_host_addresses([])


async def _renegotiate_during_handshake(
    patched: bool,
) -> tuple[RTCPeerConnection, list, RTCPeerConnection]:
    """A data-only connection; a video track added before its DTLS handshake is done."""
    a, b = RTCPeerConnection(), RTCPeerConnection()
    if patched:
        start_media_negotiated_during_handshake(a)
        start_media_negotiated_during_handshake(b)
    tracks: list = []
    b.on("track", tracks.append)
    a.createDataChannel("events")
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    a.addTrack(VideoStreamTrack())  # e.g. a teacher's page republishing after a reconnect
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(RTCSessionDescription(a.localDescription.sdp, "offer"))
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    assert b.connectionState != "connected"  # the renegotiation landed during the handshake
    return a, tracks, b


@pytest.mark.parametrize("patched", [False, True])
async def test_media_negotiated_during_the_handshake_flows_once_connected(patched) -> None:
    restrict_host_addresses(["127.0.0.1"])
    a, tracks, b = await _renegotiate_during_handshake(patched)
    try:
        assert len(tracks) == 1
        if patched:
            frame = await asyncio.wait_for(tracks[0].recv(), 10)
            assert frame.width > 0
        else:  # aiortc 1.16: answered, connected, and never started: the limitation
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(tracks[0].recv(), 2)
            assert b.connectionState == "connected"
    finally:
        await a.close()
        await b.close()
        restrict_host_addresses([])


def test_apply_uses_the_config(monkeypatch) -> None:
    from rtc_server.config import Config

    calls: list[str] = []
    monkeypatch.setattr(patches, "restrict_host_addresses", lambda a: calls.append(f"ice {a}"))
    monkeypatch.setattr(patches.sctp, "apply", lambda: calls.append("sctp"))
    patches.apply(Config(api_secret="x" * 32, ice_host_addresses=("10.0.0.1",),
                         sctp_tuning=False))
    patches.apply(Config(api_secret="x" * 32, sctp_tuning=True))
    assert calls == ["ice ('10.0.0.1',)", "ice ()", "sctp"]


def _rsa_certificate():
    """An RTCCertificate with an RSA-2048 key, as GStreamer's webrtcbin makes."""
    from aiortc.rtcdtlstransport import RTCCertificate, generate_certificate
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RTCCertificate(key=key, cert=generate_certificate(key))


async def _handshake_with_rsa_publisher() -> str:
    """An RSA-certificate offerer (the DTLS server) against a default aiortc answerer (the
    DTLS client, as the server is for a WHIP publisher); returns the answerer's final state."""
    restrict_host_addresses(["127.0.0.1"])
    publisher, server = RTCPeerConnection(), RTCPeerConnection()
    publisher._RTCPeerConnection__certificates = [_rsa_certificate()]
    settled = asyncio.Event()

    @server.on("connectionstatechange")
    def on_state() -> None:
        if server.connectionState in ("connected", "failed"):
            settled.set()

    try:
        publisher.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        assert "a=setup:actpass" in publisher.localDescription.sdp
        await server.setRemoteDescription(publisher.localDescription)
        await server.setLocalDescription(await server.createAnswer())
        assert "a=setup:active" in server.localDescription.sdp  # the server is DTLS client
        await publisher.setRemoteDescription(server.localDescription)
        await asyncio.wait_for(settled.wait(), 30)
        return server.connectionState
    finally:
        await publisher.close()
        await server.close()
        restrict_host_addresses([])


async def test_dtls_handshake_with_an_rsa_certificate_peer() -> None:
    from rtc_server.patches import dtls

    try:
        dtls.restore()
        # aiortc 1.16 offers only ECDHE-ECDSA suites: the limitation ("no shared cipher").
        assert await _handshake_with_rsa_publisher() == "failed"
        dtls.apply()
        dtls.apply()  # idempotent
        assert dtls.applied()
        assert await _handshake_with_rsa_publisher() == "connected"
    finally:
        dtls.apply()


# -- rtp_pacing: pacing, padding, the retransmission budget ------------------------------------

ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def _capture_wire(sender: RTCRtpSender) -> list[bytes]:
    """What ``sender`` writes to its DTLS transport (the wire below SRTP), in order."""
    sent: list[bytes] = []

    async def send_rtp(data: bytes) -> None:
        sent.append(data)

    sender.transport._send_rtp = send_rtp  # type: ignore[method-assign]
    return sent


def _media_packet(sender: RTCRtpSender, seq: int, timestamp: int, size: int = 200) -> RtpPacket:
    return RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp,
                     ssrc=sender._ssrc, payload=bytes([seq % 256]) * size)


async def _let_tasks_run() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_paced_sender_holds_rtp_until_its_release_time_and_lets_rtcp_pass() -> None:
    pc = RTCPeerConnection()
    try:
        sender = pc.addTrack(VideoStreamTrack())
        sent = _capture_wire(sender)
        asked: list[int] = []
        release = {"at_ms": 0.0}  # in the past: the packet may leave now

        def release_ms(now_ms: float, size: int) -> float:
            asked.append(size)
            return release["at_ms"]

        assert paced_bytes(sender) is None
        assert pace_sender(sender, release_ms) and pace_sender(sender, release_ms)  # once
        first = _media_packet(sender, 1, 0).serialize()
        await sender.transport._send_rtp(first)
        assert sent == [first] and asked == [len(first)]
        assert paced_bytes(sender) == len(first)

        release["at_ms"] = time.monotonic() * 1000 + 60_000  # a minute from now
        second = _media_packet(sender, 2, 3000).serialize()
        held = asyncio.create_task(sender.transport._send_rtp(second))
        await _let_tasks_run()
        rtcp = bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=2))
        await sender.transport._send_rtp(rtcp)  # RTCP is not paced
        assert sent == [first, rtcp] and not held.done()
        assert asked == [len(first), len(second)]  # RTCP never asked for a release time
        assert paced_bytes(sender) == len(first)  # counted when sent, not when scheduled
        held.cancel()
    finally:
        await pc.close()


async def test_padding_resends_the_latest_packets_as_rtx_with_a_fresh_send_time() -> None:
    pc = RTCPeerConnection()
    try:
        sender = pc.addTrack(VideoStreamTrack())
        sent = _capture_wire(sender)
        assert not can_pad(sender) and await send_padding(sender, 10_000) == 0  # no RTX
        # What a negotiation with RTX and abs-send-time leaves on the sender
        # (RTCRtpSender.send), and two packets it sent.
        sender._RTCRtpSender__rtx_payload_type = 97  # type: ignore[attr-defined]
        extensions = sender._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
        extensions.configure(RTCRtpParameters(headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME)]))
        history = sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
        for seq, timestamp in ((10, 3000), (11, 6000)):
            packet = _media_packet(sender, seq, timestamp)
            packet.extensions.abs_send_time = 1  # long ago
            history[seq % RTP_HISTORY_SIZE] = packet
        pace_sender(sender, lambda now_ms, size: 0.0)
        assert can_pad(sender)

        assert await send_padding(sender, 250) == 214  # room for one copy: the latest
        (copy,) = [RtpPacket.parse(data, extensions) for data in sent]
        assert (copy.payload_type, copy.ssrc) == (97, sender._rtx_ssrc)
        assert copy.extensions.abs_send_time not in (None, 1)
        original = unwrap_rtx(copy, payload_type=96, ssrc=sender._ssrc)
        assert (original.sequence_number, original.payload) == (11, bytes([11]) * 200)
        assert paced_bytes(sender) == len(sent[0])  # through the paced path
        assert await send_padding(sender, 10_000) == 2 * 214  # both, latest first
        assert [unwrap_rtx(RtpPacket.parse(d, extensions), payload_type=96,
                           ssrc=sender._ssrc).sequence_number for d in sent[1:]] == [11, 10]
    finally:
        await pc.close()


async def test_retransmissions_are_answered_only_within_the_budget() -> None:
    pc = RTCPeerConnection()
    try:
        sender = pc.addTrack(VideoStreamTrack())
        sent = _capture_wire(sender)
        history = sender._RTCRtpSender__rtp_history  # type: ignore[attr-defined]
        history[10 % RTP_HISTORY_SIZE] = _media_packet(sender, 10, 3000)
        budget = [False, True]
        asked: list[tuple[int, int]] = []

        def allow(seq: int, size: int) -> bool:
            asked.append((seq, size))
            return budget.pop(0)

        assert limit_retransmissions(sender, allow) and limit_retransmissions(sender, allow)
        await sender._retransmit(10)  # over budget: not resent (aiortc resends every NACK)
        await sender._retransmit(10)  # within it: resent
        await sender._retransmit(99)  # not in the history: nothing to ask about
        await _let_tasks_run()
        assert asked == [(10, 214), (10, 214)]  # asked once per NACK: limited once
        assert [RtpPacket.parse(data).sequence_number for data in sent] == [10]
    finally:
        await pc.close()


# -- rtp_receiver: encoded frames instead of decoding -------------------------------------------


async def test_a_diverted_receiver_hands_encoded_frames_over_and_decodes_none() -> None:
    sender_pc, pc = RTCPeerConnection(), RTCPeerConnection()
    try:
        sender_pc.addTrack(VideoStreamTrack())
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await pc.setRemoteDescription(sender_pc.localDescription)  # the receiver's track
        receiver = pc.getTransceivers()[0].receiver
        frames: list[tuple[str, bytes, int]] = []
        divert_encoded_frames(receiver, lambda codec, frame: frames.append(
            (codec.name, frame.data, frame.timestamp)))
        vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[vp8]))
        with pytest.raises(RuntimeError, match="already started"):
            divert_encoded_frames(receiver, lambda codec, frame: None)
        # Two one-packet VP8 frames (payload descriptor 0x10: start of partition 0); the
        # jitter buffer completes the first when the second begins.
        for seq, timestamp, body in ((1, 3000, b"first frame"), (2, 6000, b"second")):
            packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp,
                               ssrc=5, marker=1, payload=b"\x10" + body)
            await receiver._handle_rtp_packet(packet, arrival_time_ms=seq * 33)
        assert [(name, data) for name, data, _ in frames] == [("VP8", b"first frame")]
        assert receiver.track._queue.empty()  # nothing was decoded
        # Stopping still passes the decoder thread its sentinel: it exits, the track ends.
        await receiver.stop()
        with pytest.raises(MediaStreamError):
            await asyncio.wait_for(receiver.track.recv(), 5)
    finally:
        await sender_pc.close()
        await pc.close()


# -- rtp_forwarding: what the forwarding sender takes over -----------------------------------


async def test_install_sender_turns_aiortcs_own_sender_into_the_subclass() -> None:
    class Forwarder(RTCRtpSender):
        def role(self) -> str:
            return "forwarder"

    pc = RTCPeerConnection()
    try:
        sender = pc.addTrack(VideoStreamTrack())
        ssrc, rtx_ssrc = sender._ssrc, sender._rtx_ssrc
        with pytest.raises(TypeError):
            install_sender(sender, dict)  # type: ignore[arg-type]
        install_sender(sender, Forwarder)
        # The same object aiortc made (its SSRCs, its place in the transceiver), new methods.
        assert isinstance(sender, Forwarder) and sender.role() == "forwarder"
        assert pc.getTransceivers()[0].sender is sender
        assert (sender._ssrc, sender._rtx_ssrc) == (ssrc, rtx_ssrc)
        events = loop_events(sender)
        assert len({id(e) for e in events}) == 4
        assert all(isinstance(e, asyncio.Event) and not e.is_set() for e in events)
    finally:
        await pc.close()


def test_srtp_writer_protects_in_place_what_the_receiver_can_unprotect() -> None:
    key = bytes(range(30))  # 16-byte master key + 14-byte salt
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    writer = SrtpWriter(SimpleNamespace(_tx_srtp=tx))
    for seq in (1, 2):
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000,
                           ssrc=1234, payload=b"media" * 20).serialize()
        buffer = bytearray(packet) + bytearray(SRTP_TRAILER_BYTES)
        length = writer.protect(buffer_pointer(buffer), len(packet))
        assert length > len(packet) and bytes(buffer[:len(packet)]) != packet  # in place
        assert rx.unprotect(bytes(buffer[:length])) == packet
    rtcp = bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1234, media_ssrc=5))
    assert rx.unprotect_rtcp(writer.protect_rtcp(rtcp)) == rtcp
    with pytest.raises(ConnectionError, match="not set up"):
        SrtpWriter(SimpleNamespace(_tx_srtp=None))


async def test_udp_route_sends_on_the_nominated_pair(monkeypatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses",
                        lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    a, b = aioice.Connection(ice_controlling=True), aioice.Connection(ice_controlling=False)
    route = None
    try:
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        for here, there in ((a, b), (b, a)):
            for candidate in there.local_candidates:
                await here.add_remote_candidate(candidate)
            await here.add_remote_candidate(None)
            here.remote_username, here.remote_password = there.local_username, there.local_password
        async with asyncio.timeout(10):
            await asyncio.gather(a.connect(), b.connect())
        dtls = SimpleNamespace(transport=SimpleNamespace(_connection=a))
        route = udp_route(dtls, None)
        assert route is not None and route.addr == a._nominated[1].remote_addr
        assert udp_route(dtls, route) is route  # unchanged pair: the cached route
        assert route.sock is not None  # a plain UDP socket: sent on directly (GSO-able)
        route.sock.sendto(b"forwarded", route.addr)
        async with asyncio.timeout(10):
            assert await b.recv() == b"forwarded"
    finally:
        if route is not None:
            route.close()
        await a.close()
        await b.close()
