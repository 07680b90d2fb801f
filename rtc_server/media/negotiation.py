"""Attaching a viewer's track to its RTCPeerConnection: codecs, sender, keyframe routing.

Three things differ from adding a plain track: the transceiver must negotiate
the rung's codec (VP8 / Opus: the packets are already encoded, the sender
cannot transcode them); by default the sender is the lean
:class:`~.forwarder.ForwardingSender`, which sends the rung's shared payloads
(``forward=False``, config ``--no-media-forwarder``: aiortc's own
``RTCRtpSender``, which packetises per viewer); and keyframe requests from the
receiver must reach the rung's shared encoder instead of the sender's idle one
(the forwarder does it itself; for the plain sender,
:func:`rtc_server.patches.route_keyframe_requests`).
"""

from __future__ import annotations

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender

from rtc_server.patches import route_keyframe_requests
from rtc_server.patches.rtp_forwarding import forwarding_supported

from .forwarder import forward as forwarding

__all__ = ["RUNG_CODECS", "add_rung_track"]

#: Codecs the rung encoders produce, plus RTX so NACKed packets can be resent.
RUNG_CODECS = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}


def add_rung_track(pc: RTCPeerConnection, track: MediaStreamTrack, *, forward: bool = True,
                   gso: bool = True) -> RTCRtpSender:
    """Add ``track`` to ``pc``, negotiating only the rung's codec (VP8/Opus).

    aiortc applies codec preferences when it negotiates, so call this before
    ``createOffer`` when the server offers, and before
    ``setRemoteDescription(offer)`` when it answers (aiortc then reuses this
    transceiver for the offer's m-line of the same kind). Returns the sender,
    already wired for keyframe requests: a forwarder when ``forward`` and the
    track can hand packets over (``set_sink``) and aiortc is a checked version;
    ``gso``: let the forwarder batch a frame's packets with UDP GSO.
    """
    sender = pc.addTrack(track)
    transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
    capabilities = RTCRtpSender.getCapabilities(track.kind)
    wanted = RUNG_CODECS[track.kind]
    transceiver.setCodecPreferences(
        [c for c in capabilities.codecs if c.mimeType.lower() in wanted]
    )
    if forward and hasattr(track, "set_sink") and forwarding_supported():
        return forwarding(sender, use_gso=gso)
    route_keyframe_requests(sender, track)
    return sender
