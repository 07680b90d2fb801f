"""Attaching a :class:`RungTrack` to a subscriber's RTCPeerConnection.

Two things differ from adding a plain track: the transceiver must negotiate
the rung's codec (VP8 / Opus: the packets are already encoded, the sender
cannot transcode them), and keyframe requests from the receiver must reach
the rung's shared encoder instead of the sender's idle one.
"""

from __future__ import annotations

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender

__all__ = ["add_rung_track", "route_keyframe_requests"]

#: Codecs the rung encoders produce, plus RTX so NACKed packets can be resent.
RUNG_CODECS = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}


def add_rung_track(pc: RTCPeerConnection, track: MediaStreamTrack) -> RTCRtpSender:
    """Add ``track`` to ``pc``, negotiating only the rung's codec (VP8/Opus).

    aiortc applies codec preferences when it negotiates, so call this before
    ``createOffer`` when the server offers, and before
    ``setRemoteDescription(offer)`` when it answers (aiortc then reuses this
    transceiver for the offer's m-line of the same kind). Returns the sender,
    already wired for keyframe requests.
    """
    sender = pc.addTrack(track)
    transceiver = next(t for t in pc.getTransceivers() if t.sender is sender)
    capabilities = RTCRtpSender.getCapabilities(track.kind)
    wanted = RUNG_CODECS[track.kind]
    transceiver.setCodecPreferences(
        [c for c in capabilities.codecs if c.mimeType.lower() in wanted]
    )
    route_keyframe_requests(sender, track)
    return sender


def route_keyframe_requests(sender: RTCRtpSender, track: MediaStreamTrack) -> None:
    """Send the sender's PLI/FIR keyframe requests to the track's rung.

    Workaround (aiortc 1.16, ``RTCRtpSender._handle_rtcp_packet``): on PLI/FIR
    the sender calls its private ``_send_keyframe()``, which only flags its own
    encoder; for pre-encoded packets (``encoder.pack``) that flag is never read,
    so the request would be lost. Shadowing the method on this one sender
    instance (no subclass: ``RTCPeerConnection.addTrack`` builds the sender
    itself) forwards it to the rung, which rate-limits it for all subscribers.
    It can go when aiortc forwards keyframe requests to the track (for example
    a public hook on ``MediaStreamTrack``).
    """
    if sender.track is not track:
        raise ValueError("sender does not carry this track")
    sender._send_keyframe = track.request_keyframe  # type: ignore[attr-defined,method-assign]
