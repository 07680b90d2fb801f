"""Workaround: end received tracks whose m-line a renegotiation stopped sending on.

Checked against aiortc 1.16: a renegotiation that stops sending on an m-line (a
teacher stops a screen share: the m-line turns ``recvonly``/``inactive``) leaves
the received track live forever, so nothing downstream learns it is gone.
Stopping it emits "ended". *Can go when* aiortc ends remote tracks on such a
direction change.
"""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.sdp import SessionDescription

__all__ = ["end_withdrawn_tracks"]


def end_withdrawn_tracks(pc: RTCPeerConnection, offer: SessionDescription) -> None:
    """After applying ``offer``: stop the received tracks it no longer sends on."""
    sending = {m.rtp.muxId for m in offer.media if m.direction in ("sendonly", "sendrecv")}
    for transceiver in pc.getTransceivers():
        track = transceiver.receiver.track
        if (transceiver.mid is not None and transceiver.mid not in sending
                and track is not None and track.readyState == "live"):
            track.stop()
