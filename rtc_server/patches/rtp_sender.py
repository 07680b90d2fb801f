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
  passes each REMB bitrate to a callback (the adaptive controller). *Can go
  when* aiortc exposes REMB in stats or as an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci

from .versions import supported

__all__ = ["capture_remb", "route_keyframe_requests"]


def route_keyframe_requests(sender: RTCRtpSender, track: MediaStreamTrack) -> None:
    """Send the sender's PLI/FIR keyframe requests to ``track.request_keyframe()``."""
    if sender.track is not track:
        raise ValueError("sender does not carry this track")
    if not supported("rtp_sender.keyframes"):
        return
    sender._send_keyframe = track.request_keyframe  # type: ignore[attr-defined,method-assign]


def capture_remb(sender: RTCRtpSender, on_remb: Callable[[float], None]) -> None:
    """Call ``on_remb(bitrate_bps)`` for every REMB the sender's receiver sends."""
    if not supported("rtp_sender.remb"):
        return
    original = sender._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, _ = unpack_remb_fci(packet.fci)
            except ValueError:
                pass
            else:
                on_remb(float(bitrate))
        await original(packet)

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]
