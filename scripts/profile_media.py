"""Where a ladder viewer's RTP packet costs server CPU: per rung, per viewer, per path.

Two measurements, JSON on stdout, both in one process on loopback (no other
peers competing), so they are steadier on a busy machine than bench_media.py:

``parts``: each piece of the per-packet work timed on its own over real data (a
720p frame of the synthetic source at 2 Mbps, 15 or 30 fps): per rung (encode,
packetise once) and per viewer, for aiortc's path (packetise per viewer,
``RtpPacket`` + header extensions + serialise, ``current_ntp_time`` twice,
pylibsrtp ``protect``, ``sendto``) and for the forwarder's (template header +
payload copy + PictureID + RTX history entry, in-place ``srtp_protect``,
``sendto`` per packet or one GSO ``sendmsg`` per frame), and the forwarder's RTCP:
one sender report built, serialised, SRTCP-protected and sent, and one receiver report
unprotected, parsed and handled (RTT, ``remote-inbound-rtp``), each once per second
per viewer (RFC 3550's nominal interval, aiortc's and the forwarder's), so per packet
that is their cost ÷ the rung's packets per second.

``path``: the whole per-viewer path of a frame through a real connected
``ForwardingSender`` (``_on_frame``: route, template, protect, send) against a real
aiortc ``RTCRtpSender``'s per-packet work (``Vp8Encoder.pack``, ``RtpPacket``,
``serialize``, ``RTCDtlsTransport._send_rtp``), with each optimisation switched
off on its own: GSO, in-place SRTP. Thread CPU time inside the per-frame call
(the kernel's loopback delivery included; the client's reading, preemption by
other processes not).

``server``: cProfile of bench_media.py's server (uvloop) over its measurement window
while N viewers in client processes watch the rung, one mode; the functions with the
most own time, in µs per packet sent (cProfile's own overhead inflates small calls).

    PYTHONPATH=. .venv/bin/python scripts/profile_media.py parts --fps 15 30
    PYTHONPATH=. .venv/bin/python scripts/profile_media.py path --frames 300
    PYTHONPATH=. .venv/bin/python scripts/profile_media.py server --mode forwarder --n 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aiortc import RTCPeerConnection, clock
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import Policy, Session

from rtc_server.media import gso, vp8
from rtc_server.media.encoder import EncodedPacket, VideoRungEncoder
from rtc_server.media.encoding import VIDEO_RUNGS
from rtc_server.media.forwarder import ForwardingSender
from rtc_server.media.synthetic import SyntheticVideoTrack
from rtc_server.patches.ice import restrict_host_addresses
from rtc_server.patches.rtp_forwarding import buffer_pointer

MEDIUM = next(r for r in VIDEO_RUNGS if r.name == "medium")


def per_call_us(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


async def encoded_frames(fps: float, count: int) -> tuple[list[EncodedPacket], float]:
    from dataclasses import replace

    source = SyntheticVideoTrack(1280, 720, fps)
    encoder = VideoRungEncoder(replace(MEDIUM, fps=int(fps)))
    out: list[EncodedPacket] = []
    for _ in range(count):
        frame = await source.recv()
        out.extend(encoder.encode(frame, False))
    source.stop()
    return out, 1000 * encoder.encode_time_s / count  # wall time of libvpx on one thread


def udp_pair() -> tuple[socket.socket, socket.socket, tuple[str, int]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setblocking(False)
    return tx, rx, rx.getsockname()


def drain(rx: socket.socket) -> None:
    try:
        while True:
            rx.recv(65536)
    except BlockingIOError:
        pass


def srtp_session() -> Session:
    policy = Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                    srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    policy.allow_repeat_tx = True
    return Session(policy)


async def rtcp_parts(repeat: int = 2000) -> dict[str, float]:
    """µs per sender report out and per receiver report in, of a real ForwardingSender
    (made as ``add_rung_track`` makes it, not connected: the SR goes to a plain socket)."""
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from aiortc.rtp import RtcpPacket, RtcpReceiverInfo, RtcpRrPacket

    from rtc_server.media.forwarder import forward
    from rtc_server.media.synthetic import SyntheticVideoTrack as Track

    pc = RTCPeerConnection()
    track = Track(1280, 720, 15)
    sender = forward(pc.addTrack(track))
    sender._codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000,
                                          payloadType=96)
    sender._cname = "{0123456789abcdef-0123-4567-89ab-cdef01234567}"
    sender.frames_sent, sender.packets_sent, sender.octets_sent = 1000, 14000, 17_000_000
    session = srtp_session()
    tx, rx, addr = udp_pair()
    counter = [0]

    def sender_report() -> None:
        payload = b"".join(bytes(p) for p in sender._sender_report())
        tx.sendto(session.protect_rtcp(payload), addr)
        counter[0] += 1
        if counter[0] % 64 == 0:
            drain(rx)

    sr_us = per_call_us(sender_report, repeat)
    sender._sender_report()
    lsr = sender._lsr or 0
    rr = bytes(RtcpRrPacket(ssrc=1234, reports=[RtcpReceiverInfo(
        ssrc=sender._ssrc, fraction_lost=0, packets_lost=3, highest_sequence=14000,
        jitter=90, lsr=lsr, dlsr=6554)]))
    # SRTCP's replay check refuses a packet twice: one protected copy per call timed.
    session_key = os.urandom(30)
    inbound = Policy(key=session_key, ssrc_type=Policy.SSRC_ANY_INBOUND,
                     srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    rx_session, tx_session = Session(inbound), Session(Policy(
        key=session_key, ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    protected = iter([tx_session.protect_rtcp(rr) for _ in range(5 * repeat)])

    def receiver_report() -> None:
        for packet in RtcpPacket.parse(rx_session.unprotect_rtcp(next(protected))):
            step = sender._handle_rtcp_packet(packet)
            try:
                step.send(None)  # never suspends for a report
            except StopIteration:
                pass

    rr_us = per_call_us(receiver_report, repeat)
    assert sender.rtt_s is not None, "the receiver report was not handled"
    tx.close()
    rx.close()
    track.stop()
    await pc.close()
    return {"sr": sr_us, "rr": rr_us}



def parts(fps: float) -> dict[str, Any]:
    frames, encode_ms = asyncio.run(encoded_frames(fps, max(30, int(2 * fps))))
    frames = frames[int(fps):] or frames  # after the first keyframe
    sample = max(frames, key=lambda f: len(f.payloads))
    typical = sorted(frames, key=lambda f: len(f.data))[len(frames) // 2]
    pkts = len(typical.payloads)
    size_bytes = len(typical.data)
    # Per rung
    fragment_us = per_call_us(lambda: vp8.fragment(typical.data, 7), 2000)
    # aiortc path, per viewer
    encoder = Vp8Encoder()
    pack_us = per_call_us(lambda: encoder.pack(typical), 2000)
    params = RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(
            id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")])
    extmap = HeaderExtensionsMap()
    extmap.configure(params)
    payload = typical.payloads[0]

    def aiortc_packet() -> bytes:
        packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2)
        packet.ssrc = 3
        packet.payload = payload
        packet.marker = 0
        packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        packet.extensions.mid = "0"
        return packet.serialize(extmap)

    rtp_us = per_call_us(aiortc_packet, 20000)
    ntp_us = per_call_us(clock.current_ntp_time, 20000)
    session = srtp_session()
    plain = aiortc_packet()
    protect_us = per_call_us(lambda: session.protect(plain), 20000)
    tx, rx, addr = udp_pair()
    protected = session.protect(plain)
    counter = [0]

    def send_one() -> None:
        tx.sendto(protected, addr)
        counter[0] += 1
        if counter[0] % 64 == 0:
            drain(rx)

    sendto_us = per_call_us(send_one, 5000)
    # forwarder path, per viewer
    template = plain[:20]
    buf = bytearray(256 * 1024)
    ptr = buffer_pointer(buf)
    import struct

    header = struct.Struct("!BHI")
    word = struct.Struct("!H")
    history: list[Any] = [None] * 512
    state = {"seq": 0}

    def template_packet() -> int:
        seq = state["seq"]
        buf[0:20] = template
        header.pack_into(buf, 1, 96, seq, 1234)
        buf[17:20] = b"\1\2\3"
        n = len(payload)
        buf[20:20 + n] = payload
        word.pack_into(buf, 22, 0x8001)
        history[seq & 511] = (seq, payload, 1234, 0, 0x8001)
        state["seq"] = (seq + 1) & 0xFFFF
        return 20 + n

    template_us = per_call_us(template_packet, 20000)
    from pylibsrtp._binding import ffi, lib

    ctx = session._srtp[0]
    length = ffi.new("int *")
    plain_len = template_packet()

    def protect_in_place() -> None:
        buf[0:plain_len] = plain[:plain_len] if len(plain) >= plain_len else plain
        length[0] = len(plain)
        lib.srtp_protect(ctx, ptr, length)

    protect_in_place_us = per_call_us(protect_in_place, 20000)
    segment = len(protected)
    frame_buf = memoryview(bytearray(protected * pkts))
    counter[0] = 0

    def gso_frame() -> None:
        done = 0
        per_call = min(gso.MAX_SEGMENTS, gso.MAX_GSO_BYTES // segment)
        while done < pkts:
            n = min(per_call, pkts - done)
            gso.send_segments(tx, frame_buf[done * segment:(done + n) * segment], segment, addr)
            done += n
        counter[0] += 1
        if counter[0] % 2 == 0:
            drain(rx)

    gso_frame_us = per_call_us(gso_frame, 500) if gso.gso_available() else None
    tx.close()
    rx.close()
    rtcp = asyncio.run(rtcp_parts())
    pkts_per_s = pkts * fps  # a typical frame's packets at the rung's frame rate
    rtcp_us = (rtcp["sr"] + rtcp["rr"]) / pkts_per_s
    aiortc_viewer = {"packetise per viewer (Vp8Encoder.pack)": pack_us / pkts,
                     "RtpPacket + header extensions + serialize": rtp_us,
                     "current_ntp_time x2 (ext + SR bookkeeping)": 2 * ntp_us,
                     "SRTP protect (pylibsrtp, allocates)": protect_us,
                     "sendto": sendto_us}
    forwarder_viewer = {"template header + payload copy + PictureID + RTX entry": template_us,
                        "SRTP protect in place (no allocation)": protect_in_place_us,
                        "sendto (one per packet)": sendto_us,
                        "GSO sendmsg (per packet share of one call per frame)":
                            gso_frame_us / pkts if gso_frame_us else None,
                        "RTCP: one SR out + one RR in a second, per packet": rtcp_us}
    return {
        "fps": fps, "frame_bytes_median": size_bytes, "packets_per_frame_median": pkts,
        "packets_per_frame_max": len(sample.payloads),
        "per_rung_us_per_packet": {"encode (libvpx, rung thread)": 1000 * encode_ms / pkts,
                                   "packetise once (vp8.fragment)": fragment_us / pkts},
        "rtcp_us_per_report": {"sender report: build + serialise + protect_rtcp + sendto":
                               round(rtcp["sr"], 2),
                               "receiver report: unprotect_rtcp + parse + handle":
                               round(rtcp["rr"], 2), "packets_per_s": round(pkts_per_s)},
        "per_viewer_us_per_packet": {
            "aiortc": {k: round(v, 2) for k, v in aiortc_viewer.items()},
            "aiortc_sum": round(sum(aiortc_viewer.values()), 2),
            "forwarder": {k: round(v, 2) if v is not None else None
                          for k, v in forwarder_viewer.items()},
            "forwarder_sum_gso": round(template_us + protect_in_place_us + rtcp_us
                                       + (gso_frame_us / pkts if gso_frame_us else sendto_us), 2),
            "forwarder_sum_sendto": round(template_us + protect_in_place_us + rtcp_us
                                          + sendto_us, 2)},
    }


# -- whole per-viewer path ----------------------------------------------------------------------


class CopyingWriter:
    """The forwarder's SRTP step done as aiortc does it: pylibsrtp ``protect`` (copies in
    and out, allocates per call), for the in-place change's own gain."""

    def __init__(self, writer: Any) -> None:
        self._session = writer._session

    def protect(self, pointer: Any, length: int) -> int:
        from pylibsrtp._binding import ffi

        out = self._session.protect(bytes(ffi.buffer(pointer, length)))
        ffi.memmove(pointer, out, len(out))
        return len(out)


async def connected_pair(use_gso: bool) -> tuple[RTCPeerConnection, RTCPeerConnection, Any]:
    from rtc_server.media import RungTrack, add_rung_track

    class Idle(RungTrack):
        def __init__(self) -> None:
            from aiortc.mediastreams import MediaStreamTrack

            MediaStreamTrack.__init__(self)
            self.kind = "video"
            self._sink = None

        def set_sink(self, sink: Any) -> None:
            self._sink = sink

        def request_keyframe(self) -> None:
            pass

        def stop(self) -> None:
            from aiortc.mediastreams import MediaStreamTrack

            MediaStreamTrack.stop(self)

    server, client = RTCPeerConnection(), RTCPeerConnection()
    sender = add_rung_track(server, Idle(), gso=use_gso)
    client.addTransceiver("video", direction="recvonly")
    await client.setLocalDescription(await client.createOffer())
    await server.setRemoteDescription(client.localDescription)
    await server.setLocalDescription(await server.createAnswer())
    await client.setRemoteDescription(server.localDescription)
    async with asyncio.timeout(15):
        while sender.transport.state != "connected":
            await asyncio.sleep(0.05)
    # The client only reads RTP datagrams off its socket and drops them (no SRTP, no jitter
    # buffer), so the figures are the sender's (plus the kernel's loopback delivery).
    ice = client.getTransceivers()[0].receiver.transport.transport
    for protocol in ice._connection._protocols:
        original = protocol.datagram_received

        def received(data: bytes, addr: Any, original: Any = original) -> None:
            if not (len(data) > 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223):
                original(data, addr)

        protocol.datagram_received = received
    return server, client, sender


async def path(frames_n: int, fps: float) -> dict[str, Any]:
    restrict_host_addresses(["127.0.0.1"])
    frames = (await encoded_frames(fps, 40))[0][10:]
    packets = sum(len(f.payloads) for f in frames)
    results: dict[str, Any] = {"fps": fps, "packets_per_frame_mean":
                               round(packets / len(frames), 1)}
    for label, use_gso, in_place in (("forwarder", True, True),
                                     ("forwarder without GSO", False, True),
                                     ("forwarder without GSO, pylibsrtp protect", False, False)):
        server, client, sender = await connected_pair(use_gso)
        assert isinstance(sender, ForwardingSender)
        if not in_place:
            sender._writer = CopyingWriter(sender._ready()[1])  # type: ignore[index]
        pts = 0
        spent_ns = 0
        sent = 0
        for i in range(frames_n):
            frame = frames[i % len(frames)].with_pts(pts)
            pts += 6000
            started = time.thread_time_ns()
            sender._on_frame(frame)
            spent_ns += time.thread_time_ns() - started
            sent += len(frame.payloads)
            if i % 8 == 0:
                await asyncio.sleep(0.002)  # let the client drain its socket now and then
        results[label] = {"us_per_packet": round(spent_ns / 1000 / sent, 2),
                          "send_calls_per_packet": round(sender.send_calls / sent, 3)}
        await client.close()
        await server.close()
    # aiortc's RTCRtpSender per-packet work, on the same kind of connected transport
    server, client, sender = await connected_pair(True)
    dtls = sender.transport
    encoder = Vp8Encoder()
    extmap = HeaderExtensionsMap()
    spent_ns = 0
    sent = 0
    for i in range(frames_n):
        frame = frames[i % len(frames)]
        started = time.thread_time_ns()
        payloads, timestamp = encoder.pack(frame)
        for j, payload in enumerate(payloads):
            packet = RtpPacket(payload_type=96, sequence_number=(sent & 0xFFFF), timestamp=timestamp)
            packet.ssrc = sender._ssrc
            packet.payload = payload
            packet.marker = int(j == len(payloads) - 1)
            packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
            packet.extensions.mid = "0"
            await dtls._send_rtp(packet.serialize(extmap))
            clock.current_ntp_time()
            sent += 1
        spent_ns += time.thread_time_ns() - started  # _send_rtp never suspends here
        if i % 8 == 0:
            await asyncio.sleep(0.002)
    results["aiortc RTCRtpSender work (pack, RtpPacket, serialize, _send_rtp)"] = {
        "us_per_packet": round(spent_ns / 1000 / sent, 2)}
    await client.close()
    await server.close()
    results["note"] = ("CPU time of the thread inside the per-frame send (thread_time): the "
                       "kernel's loopback delivery included, the client's reading not")
    return results


def server_profile(mode: str, n: int, fps: float, top: int) -> dict[str, Any]:
    import pstats
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "server.prof")
        bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_media.py")
        result = subprocess.run(
            [sys.executable, bench, "--modes", mode, "--fps", str(fps), "--n", str(n),
             "--plain-n", str(n), "--duration", "10", "--warmup", "3", "--profile-out", out],
            capture_output=True, text=True, check=True)
        run = json.loads(result.stdout)["runs"][0]
        packets = run["packets_per_s_per_viewer"] * n * run["window_s"]
        stats = pstats.Stats(out)
        rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
        functions = [{"function": f"{os.path.basename(f)}:{line} {name}",
                      "calls_per_packet": round(nc / packets, 2),
                      "own_us_per_packet": round(1e6 * tt / packets, 3),
                      "cumulative_us_per_packet": round(1e6 * ct / packets, 3)}
                     for (f, line, name), (_, nc, tt, ct, _) in rows[:top]]
    return {"mode": mode, "n": n, "fps": fps, "packets": round(packets),
            "frames_received_per_s_per_viewer": run["frames_received_per_s_per_viewer"],
            "top_own_time": functions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["parts", "path", "server"])
    parser.add_argument("--mode", default="forwarder",
                        choices=["forwarder", "forwarder-paced", "forwarder-nogso", "ladder",
                                 "plain"])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--fps", type=float, nargs="+", default=[15.0, 30.0])
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    if args.what == "parts":
        print(json.dumps([parts(fps) for fps in args.fps], indent=1))
    elif args.what == "server":
        print(json.dumps([server_profile(args.mode, args.n, fps, args.top) for fps in args.fps],
                         indent=1))
    else:
        print(json.dumps([asyncio.run(path(args.frames, fps)) for fps in args.fps], indent=1))


if __name__ == "__main__":
    main()
