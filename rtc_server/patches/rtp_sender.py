"""Workarounds on aiortc's ``RTCRtpSender`` for senders of pre-encoded (ladder) packets.

Checked against aiortc 1.16 (``RTCRtpSender._handle_rtcp_packet``): on PLI/FIR
the sender calls its private ``_send_keyframe()``, which only flags its own
encoder; REMB updates only that encoder's target bitrate and is not reported
in ``getStats()``. For a track that hands the sender already-encoded packets
(``encoder.pack``) that encoder is idle, so both signals would be lost.

* :func:`route_keyframe_requests` shadows ``_send_keyframe`` on one sender
  instance (no subclass: ``RTCPeerConnection.addTrack`` builds the sender
  itself) so the request reaches the track's rung, which rate-limits it for all
  subscribers. *Can go when* aiortc forwards keyframe requests to the track.
* :func:`capture_remb` wraps ``_handle_rtcp_packet`` on one sender instance and
  passes each REMB bitrate to a callback (the adaptive controller), and the
  receiver's report blocks about the RTX stream, which aiortc ignores. *Can go
  when* aiortc exposes REMB and RTX reports in stats or as events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)

from .versions import supported

__all__ = ["capture_remb", "route_keyframe_requests"]

#: ``on_rtx_report(fraction_lost, highest_sequence)`` of a report block about the RTX stream.
RtxReportHandler = Callable[[float, int], None]


def route_keyframe_requests(sender: RTCRtpSender, track: MediaStreamTrack) -> None:
    """Send the sender's PLI/FIR keyframe requests to ``track.request_keyframe()``."""
    if sender.track is not track:
        raise ValueError("sender does not carry this track")
    if not supported("rtp_sender.keyframes"):
        return
    sender._send_keyframe = track.request_keyframe  # type: ignore[attr-defined,method-assign]


def capture_remb(sender: RTCRtpSender, on_remb: Callable[[float], None],
                 on_rtx_report: RtxReportHandler | None = None) -> None:
    """Call ``on_remb(bitrate_bps)`` for every REMB the sender's receiver sends, and
    ``on_rtx_report`` for each receiver report block about the sender's RTX stream
    (aiortc reads only the media stream's; the RTX stream carries probe padding, whose
    loss the media stream's report cannot show)."""
    if not supported("rtp_sender.remb"):
        return
    original = sender._handle_rtcp_packet
    rtx_ssrc = sender._rtx_ssrc

    async def handle(packet: Any) -> None:
        if on_rtx_report is not None and isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == rtx_ssrc:
                    on_rtx_report(report.fraction_lost / 256, report.highest_sequence)
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, _ = unpack_remb_fci(packet.fci)
            except ValueError:
                pass
            else:
                on_remb(float(bitrate))
        await original(packet)

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]
