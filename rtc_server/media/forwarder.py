"""The forwarding sender: a ladder viewer's RTP, at the least cost per packet.

Checked against aiortc 1.16 (``RTCRtpSender``: ``send``, ``stop``, ``_run_rtp``,
``_run_rtcp``, ``_handle_rtcp_packet``, ``_send_keyframe``, ``_send_rtcp``); the
private parts it needs are in :mod:`rtc_server.patches.rtp_forwarding`.

aiortc's ``RTCRtpSender`` runs one task per viewer that awaits each frame,
packetises it (per viewer), builds an ``RtpPacket`` object per packet, serialises
its header extensions, and awaits three coroutine layers to protect and send each
packet. A rung's viewers all send the same payloads (packetised once, on the
rung's encoder thread: :func:`.vp8.fragment`), so here, per viewer and packet,
only what differs is written into a prebuilt header template (sequence number,
timestamp, marker, abs-send-time; the VP8 PictureID, kept continuous per viewer),
protected in place and sent, synchronously, as the rung fans the frame out
(no task wake-up per viewer): one ``sendmsg`` with UDP GSO per frame
(:mod:`.gso`), or one ``sendto`` per packet. Paced (a :attr:`ForwardingSender.pacer`,
adaptive quality's default), the frame's protected datagrams go to the pacer instead
and leave later in short runs (GSO per run); abs-send-time then reads when the frame
was protected, not when each packet left.

It keeps what the plain sender does: an RTX history (NACK → RTX), PLI/FIR to the
track (the rung rate-limits keyframes), sender reports with SDES, RTT from
receiver reports and ``remote-inbound-rtp`` in ``getStats()``, REMB (read by
:func:`rtc_server.patches.capture_remb`, and kept in :attr:`remb_bps`).

Hook points for a per-viewer pacer, padding probes and temporal-layer frame
dropping (issue 14): :attr:`ForwardingSender.frame_filter` (drop a frame before it
takes sequence numbers, so the receiver sees no gap), :attr:`ForwardingSender.pacer`
(takes the protected datagrams of a frame instead of sending them now) and
:meth:`ForwardingSender.send_packed` (the one way out, for paced packets and
padding).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import struct
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from aiortc import RTCRtpSender
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)
from aiortc.stats import (
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
)

from rtc_server.base.background import BackgroundTasks
from rtc_server.patches.rtp_forwarding import (
    SRTP_TRAILER_BYTES,
    SrtpWriter,
    UdpRoute,
    buffer_pointer,
    install_sender,
    loop_events,
    udp_route,
)

from . import gso
from .encoder import EncodedPacket
from .vp8 import PICTURE_ID_OFFSET

__all__ = ["ForwardingSender", "FrameSource", "Pacer", "forward"]

logger = logging.getLogger(__name__)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
NTP_EPOCH_OFFSET_S = 2_208_988_800  # 1900-01-01 to 1970-01-01
RTX_HISTORY = 512  # packets kept for NACK per viewer (a power of two)
#: Above this many bytes waiting in the socket's asyncio buffer, a viewer skips frames
#: until the next keyframe (and asks for one) instead of growing memory.
BACKLOG_LIMIT_BYTES = 512 * 1024
RTT_ALPHA = 0.85
_HEADER = struct.Struct("!BHI")  # marker|payload type, sequence number, timestamp at offset 1
_WORD = struct.Struct("!H")


class FrameSource(Protocol):
    """What the forwarder needs of its track (:class:`.viewer_track.ViewerTrack`,
    :class:`.rung_track.RungTrack`)."""

    kind: str

    def set_sink(self, sink: Callable[[EncodedPacket], None] | None) -> None: ...

    def request_keyframe(self) -> None: ...

    def stop(self) -> None: ...


class Pacer(Protocol):
    """Issue 14's hook: takes a frame's protected datagrams, back to back in ``data``
    (``sizes`` bytes each, one copy per frame rather than one object per datagram), and
    sends them later through :meth:`ForwardingSender.send_packed`."""

    def push(self, sender: ForwardingSender, data: bytes, sizes: list[int],
             frame: EncodedPacket | None) -> None:
        ...


class _Scratch:
    """One buffer in which frames are assembled, protected and handed to the kernel.

    Shared by every forwarder of the process: all of them run on the event loop's
    thread and the kernel copies the data before ``sendto``/``sendmsg`` return, so one
    warm buffer serves all (better for the CPU cache than one per viewer).
    """

    def __init__(self) -> None:
        self.buf = bytearray(256 * 1024)
        self.ptr = buffer_pointer(self.buf)

    def ensure(self, size: int) -> None:
        if size > len(self.buf):
            self.buf = bytearray(max(size, 2 * len(self.buf)))
            self.ptr = buffer_pointer(self.buf)


class ForwardingSender(RTCRtpSender):
    """An ``RTCRtpSender`` that sends a ladder track's shared payloads (see module doc).

    Never constructed: :func:`forward` turns the sender ``addTrack`` made into one.
    """

    _scratch = _Scratch()
    #: Hooks (issue 14): return False to skip a frame for this viewer; take the datagrams.
    frame_filter: Callable[[EncodedPacket], bool] | None
    pacer: Pacer | None
    #: ``retransmit_filter(seq, size)``: answer this NACKed packet? (a retransmission budget)
    retransmit_filter: Callable[[int, int], bool] | None

    def _setup_forwarding(self, *, use_gso: bool) -> None:
        self.frame_filter = None
        self.pacer = None
        self.retransmit_filter = None
        self.use_gso = use_gso
        self.remb_bps: float | None = None
        self.rtt_s: float | None = None
        self._codec: RTCRtpCodecParameters | None = None
        self._pt = 0
        self._cname: str | None = None
        self._template = b""
        self._rtx_template = b""
        self._abs_offset = 0
        self._rtx_pt: int | None = None
        self._seq = random.getrandbits(15)
        self._rtx_seq = random.getrandbits(15)
        self._ts_origin = random.getrandbits(32)
        self._picture_id = random.getrandbits(15)
        self._history: list[tuple[int, bytes, int, int, int] | None] = [None] * RTX_HISTORY
        self._route: UdpRoute | None = None
        self._closed = False
        self._writer: SrtpWriter | None = None
        self._waiting_keyframe = False
        self._last_ts = 0
        self._last_sent_s = 0.0
        self._lsr: int | None = None
        self._lsr_time: float | None = None
        #: The periodic sender report waits until then (see :meth:`report_now`).
        self._sr_hold_until = 0.0
        self._background = BackgroundTasks("forwarding sender")
        self._report = RTCStatsReport()
        # stats
        self.packets_sent = 0
        self.octets_sent = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.send_calls = 0
        self.gso_calls = 0
        self.nacks_received = 0
        self.rtx_sent = 0
        self.send_errors = 0
        self.padding_sent = 0
        self.keyframe_requests_received = 0

    # -- negotiation and lifecycle ------------------------------------------------------

    async def send(self, parameters: RTCRtpSendParameters) -> None:
        if self._codec is None:
            self._codec = parameters.codecs[0]
            self._pt = self._codec.payloadType or 0
            self._cname = parameters.rtcp.cname
            self._build_templates(parameters)
        await super().send(parameters)

    def _build_templates(self, parameters: RTCRtpSendParameters) -> None:
        elements = b""
        for ext in parameters.headerExtensions:
            if ext.uri == MID_URI and parameters.muxId:
                mid = parameters.muxId.encode()
                elements += bytes([(ext.id << 4) | (len(mid) - 1)]) + mid
            elif ext.uri == ABS_SEND_TIME_URI:
                elements += bytes([(ext.id << 4) | 2])
                self._abs_offset = 12 + 4 + len(elements)
                elements += b"\0\0\0"
        elements += b"\0" * (-len(elements) % 4)
        extension = struct.pack("!HH", 0xBEDE, len(elements) // 4) + elements if elements else b""
        first = 0x90 if extension else 0x80
        assert self._codec is not None
        self._template = struct.pack("!BBHII", first, self._pt, 0, 0,
                                     self._ssrc) + extension
        for codec in parameters.codecs:
            if is_rtx(codec) and codec.parameters.get("apt") == self._pt:
                self._rtx_pt = rtx_pt = codec.payloadType or 0
                self._rtx_template = struct.pack("!BBHII", first, rtx_pt, 0, 0,
                                                 self._rtx_ssrc) + extension

    async def _run_rtp(self, codec: RTCRtpCodecParameters) -> None:
        started, exited, _, _ = loop_events(self)
        started.set()
        track: Any = self.track
        try:
            if track is not None:
                track.set_sink(self._on_frame)
            await asyncio.Event().wait()  # frames arrive through the sink until stop()
        except asyncio.CancelledError:
            pass
        finally:
            if track is not None:
                track.set_sink(None)
                track.stop()
            self._closed = True  # a late NACK, padding or paced packet opens no new route
            if self._route is not None:
                self._route.close()
                self._route = None
            exited.set()

    async def _run_rtcp(self) -> None:
        _, _, started, exited = loop_events(self)
        started.set()
        try:
            while True:
                # RFC 3550: vary the interval over [0.5, 1.5] of the nominal 1 s, as aiortc does.
                await asyncio.sleep(0.5 + random.random())
                if time.monotonic() < self._sr_hold_until:
                    continue  # a probe's report was just sent (report_now)
                await self._send_rtcp(self._sender_report())
        except asyncio.CancelledError:
            pass
        finally:
            await self._send_rtcp([RtcpByePacket(sources=[self._ssrc])])
            exited.set()

    def report_now(self, hold_s: float) -> None:
        """Send a sender report now and no periodic one for ``hold_s``: the receiver's
        next reports then refer to this one, and their round trip is the one this
        report met (sent as a probe window closes: the shaper's queue at its deepest)."""
        if self._codec is None or self._closed:
            return
        self._sr_hold_until = time.monotonic() + hold_s
        self._background.spawn(self._send_rtcp(self._sender_report()), "probe sender report")

    def _sender_report(self) -> list[AnyRtcpPacket]:
        now = time.time()
        ntp = _ntp(now)
        assert self._codec is not None
        elapsed_ts = (round((now - self._last_sent_s) * self._codec.clockRate)
                      if self.frames_sent else 0)
        packets: list[AnyRtcpPacket] = [RtcpSrPacket(ssrc=self._ssrc, sender_info=RtcpSenderInfo(
            ntp_timestamp=ntp, rtp_timestamp=(self._last_ts + elapsed_ts) & 0xFFFFFFFF,
            packet_count=self.packets_sent & 0xFFFFFFFF,
            octet_count=self.octets_sent & 0xFFFFFFFF))]
        self._lsr, self._lsr_time = (ntp >> 16) & 0xFFFFFFFF, now
        if self._cname:
            packets.append(RtcpSdesPacket(chunks=[RtcpSourceInfo(
                ssrc=self._ssrc, items=[(1, self._cname.encode("utf8"))])]))
        return packets

    # -- RTCP in ------------------------------------------------------------------------

    async def _handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == self._ssrc:
                    self._on_report(packet.ssrc, report)
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            self.nacks_received += 1
            allow = self.retransmit_filter
            for seq in packet.lost:
                if allow is not None:
                    entry = self._history[seq & (RTX_HISTORY - 1)]
                    if entry is None or entry[0] != seq or not allow(seq, len(entry[1]) + 14):
                        continue
                self.retransmit(seq)
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_FIR,
                                                                   RTCP_PSFB_PLI):
            self._send_keyframe()
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            if self._ssrc in ssrcs:
                self.remb_bps = float(bitrate)

    def _on_report(self, reporter: int, report: Any) -> None:
        if self._lsr == report.lsr and report.dlsr and self._lsr_time is not None:
            rtt = time.time() - self._lsr_time - report.dlsr / 65536
            self.rtt_s = rtt if self.rtt_s is None else RTT_ALPHA * self.rtt_s + (
                1 - RTT_ALPHA) * rtt
        self._report.add(RTCRemoteInboundRtpStreamStats(
            timestamp=_now_datetime(), type="remote-inbound-rtp",
            id="remote-inbound-rtp_" + str(id(self)), ssrc=reporter, kind=self.kind,
            transportId=self.transport._stats_id,
            packetsReceived=self.packets_sent - report.packets_lost,
            packetsLost=report.packets_lost, jitter=report.jitter,
            # aiortc declares a float but reports None before the first RTT, as here.
            roundTripTime=cast(float, self.rtt_s), fractionLost=report.fraction_lost))

    def _send_keyframe(self) -> None:
        """A PLI/FIR: ask the track's rung (rate-limited there for all its viewers)."""
        self.keyframe_requests_received += 1
        track: Any = self.track
        if track is not None:
            track.request_keyframe()

    async def getStats(self) -> RTCStatsReport:
        self._report.add(RTCOutboundRtpStreamStats(
            timestamp=_now_datetime(), type="outbound-rtp", id="outbound-rtp_" + str(id(self)),
            ssrc=self._ssrc, kind=self.kind, transportId=self.transport._stats_id,
            packetsSent=self.packets_sent, bytesSent=self.octets_sent,
            trackId=str(id(self.track))))
        self._report.update(self.transport._get_stats())
        return self._report

    def forwarding_stats(self) -> dict[str, Any]:
        return {"frames_sent": self.frames_sent, "frames_dropped": self.frames_dropped,
                "packets_sent": self.packets_sent, "send_calls": self.send_calls,
                "gso_calls": self.gso_calls, "nacks_received": self.nacks_received,
                "rtx_sent": self.rtx_sent, "padding_sent": self.padding_sent,
                "send_errors": self.send_errors,
                "rtt_ms": None if self.rtt_s is None else round(self.rtt_s * 1000, 1),
                "remb_bps": self.remb_bps,
                "keyframe_requests": self.keyframe_requests_received}

    # -- RTP out (the hot path) ---------------------------------------------------------

    def _ready(self) -> tuple[UdpRoute, SrtpWriter] | None:
        dtls = self.transport
        if self._closed or dtls.state != "connected":
            return None
        route = udp_route(dtls, self._route)
        if route is None:
            return None
        if self._writer is None:
            self._writer = SrtpWriter(dtls)
        self._route = route
        return route, self._writer

    def _on_frame(self, frame: EncodedPacket) -> None:
        """One frame of the track, called as the rung fans it out (must not raise)."""
        if not self._enabled or (self.frame_filter is not None and not self.frame_filter(frame)):
            return
        try:
            ready = self._ready()
            if ready is None:
                return
            route, writer = ready
            if route.transport.get_write_buffer_size() > BACKLOG_LIMIT_BYTES:
                self._skip_to_keyframe()
                return
            if self._waiting_keyframe:
                if not frame.is_keyframe:
                    self.frames_dropped += 1
                    return
                self._waiting_keyframe = False
            self._send_frame(frame, route, writer)
        except Exception:
            logger.exception("ForwardingSender(%s) dropped a frame", self.kind)

    def _skip_to_keyframe(self) -> None:
        self.frames_dropped += 1
        if not self._waiting_keyframe:
            self._waiting_keyframe = True
            self._send_keyframe()

    def _send_frame(self, frame: EncodedPacket, route: UdpRoute, writer: SrtpWriter) -> None:
        payloads = frame.payloads
        count = len(payloads)
        template = self._template
        hlen = len(template)
        scratch = self._scratch
        scratch.ensure(count * (hlen + SRTP_TRAILER_BYTES) + len(frame.data) + 8 * count)
        buf, ptr = scratch.buf, scratch.ptr
        pt = self._pt
        ts = (self._ts_origin + frame.pts) & 0xFFFFFFFF
        now = time.time()
        abs_time = (int((now + NTP_EPOCH_OFFSET_S) * 262144) & 0xFFFFFF).to_bytes(3, "big")
        abs_at = self._abs_offset
        video = self.kind == "video"
        picture = 0x8000 | self._picture_id
        history = self._history
        seq = self._seq
        sizes = []
        offset = octets = 0
        last = count - 1
        for i, payload in enumerate(payloads):
            body = offset + hlen
            buf[offset:body] = template
            marker = 0x80 if i == last else 0
            _HEADER.pack_into(buf, offset + 1, marker | pt, seq, ts)
            if abs_at:
                buf[offset + abs_at:offset + abs_at + 3] = abs_time
            plen = len(payload)
            buf[body:body + plen] = payload
            if video:
                _WORD.pack_into(buf, body + PICTURE_ID_OFFSET, picture)
            size = writer.protect(ptr + offset, hlen + plen)
            history[seq & (RTX_HISTORY - 1)] = (seq, payload, ts, marker, picture)
            sizes.append(size)
            offset += size
            octets += plen
            seq = (seq + 1) & 0xFFFF
        self._seq = seq
        if video:
            self._picture_id = (self._picture_id + 1) & 0x7FFF
        self.packets_sent += count
        self.octets_sent += octets
        self.frames_sent += 1
        self._last_ts, self._last_sent_s = ts, now
        if self.pacer is not None:
            # One copy of the frame's datagrams (the scratch buffer serves the next viewer
            # at once); the pacer sends runs of it from there, without a copy per datagram.
            with memoryview(buf) as view:
                data = view[:offset].tobytes()
            self.pacer.push(self, data, sizes, frame)
            return
        self._emit(route, buf, sizes)

    def retransmit(self, seq: int) -> bool:
        """Resend packet ``seq`` (as RTX when negotiated); False if it left the history."""
        entry = self._history[seq & (RTX_HISTORY - 1)]
        ready = self._ready()
        if entry is None or entry[0] != seq or ready is None:
            return False
        route, writer = ready
        buf = self._rtx_packet(entry)
        size = writer.protect(buffer_pointer(buf), len(buf) - SRTP_TRAILER_BYTES)
        self.rtx_sent += 1
        self._emit(route, buf, [size])
        return True

    @property
    def can_pad(self) -> bool:
        """Whether :meth:`pad` can send anything (RTX negotiated)."""
        return self._rtx_pt is not None

    def pad(self, max_bytes: int) -> int:
        """Probe padding: RTX copies of the newest packets, at most ``max_bytes`` (RTP
        payload bytes and RTX headers), through the pacer when there is one; returns the
        bytes sent. A receiver that has the packet drops the copy; one that lost it
        recovers it. Nothing without RTX (a copy on the media SSRC would read as a
        duplicate there)."""
        ready = self._ready()
        if ready is None or self._rtx_pt is None or max_bytes <= 0:
            return 0
        writer = ready[1]
        datagrams: list[bytes] = []
        sent = 0
        seq = self._seq
        for _ in range(RTX_HISTORY):
            seq = (seq - 1) & 0xFFFF
            entry = self._history[seq & (RTX_HISTORY - 1)]
            if entry is None or entry[0] != seq:
                break
            size = len(entry[1]) + 14
            if sent + size > max_bytes:
                break
            buf = self._rtx_packet(entry)
            length = writer.protect(buffer_pointer(buf), len(buf) - SRTP_TRAILER_BYTES)
            datagrams.append(bytes(buf[:length]))
            sent += size
        if not datagrams:
            return 0
        self.padding_sent += len(datagrams)
        if self.pacer is not None:
            self.pacer.push(self, b"".join(datagrams), [len(d) for d in datagrams], None)
        else:
            self.send_datagrams(datagrams)
        return sent

    def _rtx_packet(self, entry: tuple[int, bytes, int, int, int]) -> bytearray:
        """A history entry as an RTX packet (or the packet again, without RTX), with a
        fresh abs-send-time (the original's would read as queueing delay) and room for
        the SRTP trailer."""
        seq, payload, ts, marker, picture = entry
        buf = bytearray()
        if self._rtx_pt is not None:
            buf += self._rtx_template
            _HEADER.pack_into(buf, 1, marker | self._rtx_pt, self._rtx_seq, ts)
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            buf += _WORD.pack(seq)
        else:
            buf += self._template
            _HEADER.pack_into(buf, 1, marker | self._pt, seq, ts)
        if self._abs_offset:
            at = self._abs_offset
            buf[at:at + 3] = (int((time.time() + NTP_EPOCH_OFFSET_S) * 262144)
                              & 0xFFFFFF).to_bytes(3, "big")
        body = len(buf)
        buf += payload
        if self.kind == "video":
            _WORD.pack_into(buf, body + PICTURE_ID_OFFSET, picture)
        buf += bytes(SRTP_TRAILER_BYTES)
        return buf

    def send_datagrams(self, datagrams: list[bytes]) -> None:
        """Send already protected datagrams now (padding's way out without a pacer)."""
        self.send_packed(b"".join(datagrams), [len(d) for d in datagrams])

    def send_packed(self, data: bytes | memoryview, sizes: list[int]) -> None:
        """Send already protected datagrams, back to back in ``data``, now (the pacer's
        way out)."""
        ready = self._ready()
        if ready is None:
            return
        # The same way out as an unpaced frame: the viewer's own socket, GSO for runs of
        # equal-sized packets, a vanished route counted (pacing is on by default).
        self._emit(ready[0], data, sizes)

    def _emit(self, route: UdpRoute, buf: bytes | bytearray | memoryview,
              sizes: list[int]) -> None:
        """Send the datagrams laid out back to back in ``buf``: GSO, else one by one."""
        sock = route.sock
        addr = route.addr
        at = 0
        done = 0
        with memoryview(buf) as view:
            if sock is not None and route.transport.get_write_buffer_size() == 0:
                blocked = False
                try:
                    if self.use_gso and len(sizes) > 1:
                        done, at, blocked = self._emit_gso(sock, view, sizes, addr)
                    while done < len(sizes) and not blocked:
                        sock.sendto(view[at:at + sizes[done]], addr)
                        self.send_calls += 1
                        at += sizes[done]
                        done += 1
                except BlockingIOError:
                    pass  # the rest waits in asyncio's buffer, in order
                except OSError as exc:
                    # The path to the viewer is gone (unreachable, interface down): these
                    # datagrams are lost, as asyncio's transport would lose them; the
                    # viewer's ICE consent check ends the connection.
                    self.send_errors += 1
                    if self.send_errors == 1:
                        logger.info("ForwardingSender(%s) cannot reach %s: %s", self.kind,
                                    addr, exc)
                    return
            while done < len(sizes):  # TURN, a full socket buffer, or a backlog to keep behind
                route.transport.sendto(bytes(view[at:at + sizes[done]]), addr)
                self.send_calls += 1
                at += sizes[done]
                done += 1

    def _emit_gso(self, sock: Any, view: memoryview, sizes: list[int],
                  addr: tuple[str, int]) -> tuple[int, int, bool]:
        """Send the leading run of equal-sized datagrams (plus a shorter last one) by GSO;
        returns how many datagrams and bytes left, and whether the socket buffer filled."""
        segment = sizes[0]
        run = 1
        while run < len(sizes) and sizes[run] == segment:
            run += 1
        if run < len(sizes) and run == len(sizes) - 1 and sizes[run] < segment:
            run += 1  # GSO allows a shorter last segment
        per_call = max(1, min(gso.MAX_SEGMENTS, gso.MAX_GSO_BYTES // segment))
        done = at = 0
        while run - done > 1:
            n = min(per_call, run - done)
            length = sum(sizes[done:done + n])
            try:
                gso.send_segments(sock, view[at:at + length], segment, addr)
            except BlockingIOError:
                return done, at, True
            except gso.GsoUnavailable as exc:
                logger.warning("UDP GSO unavailable (%s); sending datagram by datagram", exc)
                type(self).use_gso_default = False
                self.use_gso = False
                break
            self.send_calls += 1
            self.gso_calls += 1
            done += n
            at += length
        return done, at, False

    #: Cleared process-wide when the kernel refuses GSO once (new viewers skip trying).
    use_gso_default = True


def forward(sender: RTCRtpSender, *, use_gso: bool = True) -> ForwardingSender:
    """Turn ``sender`` (just made by ``addTrack`` for a ladder track) into a forwarder."""
    install_sender(sender, ForwardingSender)
    assert isinstance(sender, ForwardingSender)
    sender._setup_forwarding(use_gso=use_gso and ForwardingSender.use_gso_default
                             and gso.gso_available())
    return sender


def _ntp(unix_s: float) -> int:
    seconds = unix_s + NTP_EPOCH_OFFSET_S
    whole = int(seconds)
    return (whole << 32) | int((seconds - whole) * (1 << 32))


def _now_datetime() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
