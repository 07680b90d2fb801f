"""WHEP egress (the counterpart of WHIP), the domain side: a player pulls a rung of the class.

One WHEP session is a server :class:`~rtc_server.core.peer.Peer` answering a
player's receive-only offer. Its video and audio are an ordinary viewer of the
session's media (:meth:`SessionMedia.add_viewer_on`, connection id
``whep:<resource id>``): the teacher's camera or screen share on the rung the
player asked for (fixed: the adaptive controller leaves it alone), relayed from
another worker or machine when the publisher is there, and waiting (no frames)
while nobody publishes. The HTTP endpoint is the edge's: ``signaling/whep_api.py``.

A resource whose peer connection fails, closes, or does not connect within
:data:`~.peer_resources.CONNECT_TIMEOUT_S` is removed. A ``DELETE`` for one that already ended is
answered as done, as for WHIP.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack
from aiortc.sdp import SessionDescription

from rtc_server.base.exceptions import ClassroomError, InvalidRequest
from rtc_server.config import Config
from rtc_server.core.peer import Peer, check_offer_sdp

from .hub import RUNG_NAMES, SessionMedia
from .peer_resources import PeerResources
from .whip import InvalidOffer

__all__ = ["WhepResource", "WhepResourceNotFound", "WhepResources", "receiving_kinds"]

logger = logging.getLogger(__name__)


class WhepResourceNotFound(ClassroomError):
    code = "whep_resource_not_found"
    http_status = 404


@dataclass(eq=False)
class WhepResource:
    """One player's peer connection."""

    id: str
    session_id: str
    viewer: str  # the user id of the credential that created it ("api" for the secret)
    rung: str
    peer: Peer
    media: SessionMedia
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def conn_id(self) -> str:
        return f"whep:{self.id}"

    @property
    def location(self) -> str:
        return f"/whep/{self.session_id}/{self.id}"


def receiving_kinds(sdp: str) -> set[str]:
    """The media kinds a player's offer receives; :class:`InvalidOffer` when none."""
    try:
        parsed = check_offer_sdp(sdp)
    except InvalidRequest as exc:
        raise InvalidOffer(exc.message) from exc
    kinds = [m for m in parsed.media if m.kind in ("audio", "video")]
    if not kinds:
        raise InvalidOffer("the offer has no audio or video section (m=audio / m=video)")
    receiving = {m.kind for m in kinds if m.direction in ("recvonly", "sendrecv")}
    if not receiving:
        raise InvalidOffer("the offer receives no audio or video: a WHEP offer must be "
                           "recvonly (or sendrecv) for at least one m=audio / m=video")
    for kind in ("video", "audio"):
        count = sum(1 for m in kinds if m.kind == kind)
        if count > 1:
            raise InvalidOffer(f"the offer has {count} m={kind} sections; a WHEP player "
                               f"receives one video and one audio")
    return receiving


class WhepResources(PeerResources[WhepResource]):
    """The WHEP sessions of this process, owned by the media feature."""

    kind = "whep"
    not_found = WhepResourceNotFound

    async def create(self, media: SessionMedia, config: Config, offer: str, *, viewer: str,
                     rung: str | None) -> tuple[WhepResource, str]:
        """Answer ``offer`` with the session's media on ``rung``; returns resource and answer."""
        if self._closing:
            raise InvalidRequest("the server is shutting down")
        if rung is None:
            rung = media.hub.initial_rung
        if rung not in RUNG_NAMES:
            raise InvalidRequest(f"rung must be one of {', '.join(RUNG_NAMES)}, not {rung!r}")
        kinds = receiving_kinds(offer)
        resource_id = secrets.token_urlsafe(12)

        listener = _ViewerOnOffer(media, f"whep:{resource_id}", viewer, kinds, rung)
        peer = Peer(f"whep:{resource_id}", config, on_state=self._on_state(resource_id),
                    listeners=(listener,))
        resource = WhepResource(id=resource_id, session_id=media.session_id, viewer=viewer,
                                rung=rung, peer=peer, media=media)
        self.resources[resource_id] = resource
        try:
            try:
                answer = await peer.answer(offer)  # gathers every candidate (no trickle)
            except InvalidRequest as exc:
                raise InvalidOffer(exc.message) from exc
            if not any(t.sender.track is not None and t.direction in ("sendonly", "sendrecv")
                       for t in peer.pc.getTransceivers()):
                raise InvalidOffer("none of the offered codecs can be sent here (the class is "
                                   "sent as VP8 video and Opus audio)")
        except BaseException:
            self.resources.pop(resource_id, None)
            media.remove_viewer(resource.conn_id)
            await peer.close()
            raise
        self._started(resource)
        logger.info("Whep(%s) %s plays %s of session %s on rung %s", resource_id, viewer,
                    "+".join(sorted(kinds)), media.session_id, rung)
        return resource, answer

    async def _release(self, resource: WhepResource) -> None:
        resource.media.remove_viewer(resource.conn_id)


class _ViewerOnOffer:
    """The peer listener of a WHEP peer: adds the viewer's tracks before the offer applies."""

    def __init__(self, media: SessionMedia, conn_id: str, user_id: str, kinds: set[str],
                 rung: str) -> None:
        self.media, self.conn_id, self.user_id = media, conn_id, user_id
        self.kinds, self.rung = kinds, rung

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        if first:
            self.media.add_viewer_on(peer.pc, self.conn_id, self.user_id, self.kinds,
                                     rung=self.rung)

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        logger.info("Whep(%s) player sent a %s track; ignoring it", self.conn_id, track.kind)
