"""The aiortc/aioice/pylibsrtp workarounds: the version gate, each patch doing what it says."""

from __future__ import annotations

import asyncio
import logging

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_PLI, RtcpPsfbPacket, pack_remb_fci
from aiortc.sdp import SessionDescription

from rtc_server import patches
from rtc_server.media import add_rung_track
from rtc_server.media.forwarder import ForwardingSender
from rtc_server.media.viewer_track import ViewerTrack
from rtc_server.patches import (
    advertise_address,
    capture_remb,
    end_withdrawn_tracks,
    restrict_host_addresses,
    route_keyframe_requests,
    start_media_negotiated_during_handshake,
    versions,
)
from rtc_server.patches import sctp as sctp_patch
from rtc_server.patches.rtp_forwarding import forwarding_supported


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
