"""Every workaround for a limit of aiortc / aioice, in one place.

Each module names the upstream limitation, the version it was checked
against, and when it can go; :mod:`.versions` is the one version gate they all
pass through. The server calls :func:`apply` once at start-up; the media code
calls the per-object helpers.

=====================  ================================================================
module                 works around
=====================  ================================================================
``ice``                aioice gathers on every interface but loopback, with no choice
``sctp``               a Task per data-channel send, a timer per packet, STUN parse per
                       DTLS datagram (and opt-in delayed SACKs)
``rtp_sender``         PLI/FIR and REMB never reach a track of pre-encoded packets
``rtp_pacing``         a frame's packets leave back to back (no pacing); no padding to probe
                       with; every NACK answered, however full the link
``rtp_receiver``       no way to receive encoded frames without decoding them
``rtp_forwarding``     no sender factory, no synchronous send, SRTP protect allocates per
                       call (what the media forwarder needs)
``remote_tracks``      a renegotiation that stops sending leaves the track live
``handshake_media``    media negotiated during the DTLS handshake is never started
``datachannel_text``   a text message that is not UTF-8 ends the peer's DTLS loop
``dtls``               DTLS offers only ECDSA suites: RSA-certificate peers (GStreamer
                       webrtcbin) find no shared cipher
=====================  ================================================================
"""

from __future__ import annotations

from rtc_server.config import Config

from . import datachannel_text, dtls, sctp
from .handshake_media import start_media_negotiated_during_handshake
from .ice import advertise_address, restrict_host_addresses, rtc_configuration
from .remote_tracks import end_withdrawn_tracks
from .rtp_pacing import (
    can_pad,
    limit_retransmissions,
    pace_sender,
    paced_bytes,
    send_padding,
)
from .rtp_receiver import divert_encoded_frames
from .rtp_sender import capture_remb, route_keyframe_requests
from .versions import TESTED, supported, untested

__all__ = [
    "TESTED",
    "advertise_address",
    "apply",
    "can_pad",
    "capture_remb",
    "datachannel_text",
    "divert_encoded_frames",
    "dtls",
    "end_withdrawn_tracks",
    "limit_retransmissions",
    "pace_sender",
    "paced_bytes",
    "restrict_host_addresses",
    "route_keyframe_requests",
    "rtc_configuration",
    "sctp",
    "send_padding",
    "start_media_negotiated_during_handshake",
    "supported",
    "untested",
]


def apply(config: Config) -> None:
    """The process-wide patches the configuration asks for (idempotent)."""
    restrict_host_addresses(config.ice_host_addresses)
    datachannel_text.apply()
    dtls.apply()
    if config.sctp_tuning:
        sctp.apply()
