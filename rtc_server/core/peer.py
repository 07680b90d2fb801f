"""One WebRTC peer connection on the server: SDP checks, answers, candidates, data channels.

Used for every peer the server answers: a classroom client's (data channels,
media) and a WHIP publisher's (:mod:`rtc_server.media.whip`). aiortc
workarounds it needs come from :mod:`rtc_server.patches`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.sdp import SessionDescription, candidate_from_sdp

from rtc_server.base.exceptions import InvalidRequest
from rtc_server.config import Config
from rtc_server.patches import (
    advertise_address,
    end_withdrawn_tracks,
    rtc_configuration,
    start_media_negotiated_during_handshake,
)

logger = logging.getLogger(__name__)

EVENTS_LABEL = "events"  # reliable, ordered: the event stream and client messages
EPHEMERAL_LABEL = "ephemeral"  # unordered, no retransmits: pings, cursors
#: Media sections (m= lines) an offer may have. A client needs 3 (data, video, audio) and a
#: publishing teacher 5 (camera, screen, microphone); aiortc's parsing and answering cost
#: grows with each section (100 sections: ~0.3 s of the event loop), so more are refused
#: before anything parses them.
MAX_MEDIA_SECTIONS = 16


class PeerListener(Protocol):
    """What hooks into a peer connection (the installed features, or WHIP)."""

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        """Called with the parsed offer before it is applied (add tracks to send here)."""

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        """A track the remote side sends."""


def check_offer_sdp(sdp: str) -> SessionDescription:
    """Refuse SDP that aiortc would accept but that cannot set up a connection."""
    if not sdp.startswith("v=0"):
        raise InvalidRequest("invalid SDP offer: it must start with 'v=0'")
    sections = sdp.count("\nm=")
    if sections > MAX_MEDIA_SECTIONS:
        raise InvalidRequest(f"SDP offer has {sections} media sections (m= lines); at most "
                             f"{MAX_MEDIA_SECTIONS} are accepted")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:
        raise InvalidRequest(f"invalid SDP offer: {exc or type(exc).__name__}") from exc
    if not parsed.media:
        raise InvalidRequest("invalid SDP offer: no media sections (m= lines)")
    for media in parsed.media:
        ice, dtls = media.ice, media.dtls
        if ice is None or ice.usernameFragment is None or dtls is None or not dtls.fingerprints:
            raise InvalidRequest(
                f"invalid SDP offer: m={media.kind} lacks ICE credentials or a DTLS fingerprint"
            )
    return parsed


class Peer:
    """Wraps an :class:`RTCPeerConnection` answering the client's offers."""

    def __init__(
        self,
        name: str,
        config: Config,
        *,
        on_datachannel: Callable[[RTCDataChannel], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        owner: Any = None,
        listeners: Sequence[PeerListener] = (),
    ) -> None:
        self.name = name
        self.owner = owner  # the Connection this peer belongs to
        self._config = config
        self._listeners = tuple(listeners)
        self._answered = False
        self.pc = RTCPeerConnection(configuration=rtc_configuration(config.ice_servers))
        start_media_negotiated_during_handshake(self.pc)
        if on_datachannel is not None:
            self.pc.on("datachannel", on_datachannel)

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            for listener in self._listeners:
                listener.peer_track(self, track)

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            logger.debug("Peer(%s) connection state %s", self.name, self.pc.connectionState)
            if on_state is not None:
                on_state(self.pc.connectionState)

    @property
    def answered(self) -> bool:
        """Whether an offer was applied and answered (a renegotiation follows, if any)."""
        return self._answered

    async def answer(self, sdp: str) -> str:
        """Apply a client offer (first or renegotiation) and return the SDP answer."""
        if self.pc.signalingState == "closed":
            raise InvalidRequest("cannot answer in state 'closed'")
        if self.pc.signalingState != "stable":
            raise InvalidRequest(
                f"cannot take an offer in signaling state {self.pc.signalingState!r}"
            )
        parsed = check_offer_sdp(sdp)
        for listener in self._listeners:
            listener.peer_offer(self, parsed, not self._answered)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError/KeyError/... on bad SDP
            raise InvalidRequest(f"invalid SDP offer: {exc or type(exc).__name__}") from exc
        end_withdrawn_tracks(self.pc, parsed)
        try:
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
        except InvalidStateError as exc:
            # Closed while the offer was applied (the connection left, or its data channel
            # was declared dead and this peer replaced): nothing to answer any more.
            raise InvalidRequest("the peer connection closed while this offer was answered; "
                                 "send a new offer") from exc
        self._answered = True
        return advertise_address(self.pc.localDescription.sdp, self._config.ice_advertise_address)

    async def accept_answer(self, sdp: str) -> None:
        """Apply the client's answer to a server-initiated offer (renegotiation)."""
        if self.pc.signalingState != "have-local-offer":
            raise InvalidRequest(
                f"cannot take an answer in signaling state {self.pc.signalingState!r}"
            )
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            raise InvalidRequest(f"invalid SDP answer: {exc or type(exc).__name__}") from exc

    async def offer(self) -> str:
        """Create a server-side offer (when the server adds tracks)."""
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        return advertise_address(self.pc.localDescription.sdp, self._config.ice_advertise_address)

    async def add_candidate(self, candidate: str | None, sdp_mid: str | None,
                            sdp_mline_index: int | None) -> None:
        if self.pc.remoteDescription is None:
            raise InvalidRequest("candidate before offer: send the offer first")
        if not candidate:
            return  # end of candidates; aiortc needs no signal
        text = candidate[len("candidate:"):] if candidate.startswith("candidate:") else candidate
        try:
            parsed = candidate_from_sdp(text)
        except Exception as exc:
            raise InvalidRequest(f"invalid ICE candidate: {exc or type(exc).__name__}") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        if sdp_mid is None and sdp_mline_index is None:
            parsed.sdpMLineIndex = 0
        await self.pc.addIceCandidate(parsed)

    async def close(self) -> None:
        await self.pc.close()
