"""WHIP ingest (RFC 9725), the domain side: an encoder's peer connection publishing into a class.

One WHIP session is a server :class:`~rtc_server.core.peer.Peer` answering the
encoder's offer; its tracks are published into the session's media like a
teacher's camera and microphone (origin ``whip:<resource id>``), so students
see them through the same ladder. The HTTP endpoint (status codes, headers,
CORS, credentials) is the edge's: ``signaling/whip_api.py``.

A resource whose peer connection fails, closes, or does not connect within
:data:`~.peer_resources.CONNECT_TIMEOUT_S` is removed and unpublished. So is one whose
media stops: no RTP for :data:`MEDIA_SILENCE_S` (an encoder killed without its ``DELETE``
would otherwise stay the class's source until ICE consent expires, about 35 s,
showing students a frozen picture). The newest publisher is what students see
(:meth:`SessionMedia.current`), so a restarted encoder takes over at once, even
before its killed predecessor is dropped. No trickle ICE: the answer carries all
of the server's candidates (aiortc gathers them before it answers).

A ``DELETE`` for a resource that already ended (connection closed, media stopped,
deleted before) is answered as done: the client's goal, the publication gone, is
met, and an encoder that lost its connection should not report an error when it
cleans up. The ids of the last :data:`~.peer_resources.ENDED_REMEMBERED` ended resources
are kept for that; an id never issued (or long forgotten) is 404.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack
from aiortc.sdp import SessionDescription

from rtc_server.base.exceptions import ClassroomError, InvalidRequest
from rtc_server.config import Config
from rtc_server.core.peer import Peer, check_offer_sdp

from .hub import Role, SessionMedia
from .peer_resources import PeerResources

__all__ = ["InvalidOffer", "WhipResource", "WhipResourceNotFound", "WhipResources"]

logger = logging.getLogger(__name__)

#: A connected publisher whose RTP stops for this long is dropped (see module docstring).
MEDIA_SILENCE_S = 3.0
#: A connected publisher gets this long to send its first RTP packet.
FIRST_MEDIA_TIMEOUT_S = 10.0
#: How often the received packet counts are read.
MEDIA_CHECK_INTERVAL_S = 0.5
#: A check this many intervals late (the event loop was busy) does not count as silence.
LATE_FACTOR = 3.0


class InvalidOffer(ClassroomError):
    """The body is not an SDP offer this server can ingest (400, unlike InvalidRequest's 422)."""

    code = "invalid_sdp"
    http_status = 400


class WhipResourceNotFound(ClassroomError):
    code = "whip_resource_not_found"
    http_status = 404


@dataclass(eq=False)
class WhipResource:
    """One publisher's peer connection and what it published."""

    id: str
    session_id: str
    publisher: str  # the user id of the credential that created it ("api" for the secret)
    peer: Peer
    media: SessionMedia
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def origin(self) -> str:
        return f"whip:{self.id}"

    @property
    def location(self) -> str:
        return f"/whip/{self.session_id}/{self.id}"


def sending_kinds(sdp: str) -> list[str]:
    """The media kinds an offer sends; raises :class:`InvalidOffer` when it cannot be ingested."""
    try:
        parsed = check_offer_sdp(sdp)
    except InvalidRequest as exc:
        raise InvalidOffer(exc.message) from exc
    kinds = [m.kind for m in parsed.media if m.kind in ("audio", "video")]
    if not kinds:
        raise InvalidOffer("the offer has no audio or video section (m=audio / m=video)")
    sending = [
        m.kind
        for m in parsed.media
        if m.kind in ("audio", "video") and m.direction in ("sendonly", "sendrecv")
    ]
    if not sending:
        raise InvalidOffer(
            "the offer sends no audio or video: a WHIP offer must be "
            "sendonly (or sendrecv) for at least one m=audio / m=video"
        )
    # One publisher is one camera and one microphone (media/hub.py: publications per source).
    for kind in ("video", "audio"):
        if sending.count(kind) > 1:
            raise InvalidOffer(f"the offer sends {sending.count(kind)} {kind} tracks; a WHIP "
                               f"publisher sends at most one video and one audio")
    return sending


class WhipResources(PeerResources[WhipResource]):
    """The WHIP sessions of this process, owned by the media feature."""

    kind = "whip"
    not_found = WhipResourceNotFound

    async def create(
        self, media: SessionMedia, config: Config, offer: str, *, publisher: str
    ) -> tuple[WhipResource, str]:
        """Answer ``offer`` and publish its tracks; returns the resource and the answer SDP."""
        if self._closing:
            raise InvalidRequest("the server is shutting down")
        kinds = sending_kinds(offer)
        resource_id = secrets.token_urlsafe(12)
        tracks = _TrackCollector()

        peer = Peer(f"whip:{resource_id}", config, on_state=self._on_state(resource_id),
                    listeners=(tracks,))
        resource = WhipResource(id=resource_id, session_id=media.session_id,
                                publisher=publisher, peer=peer, media=media)
        try:
            try:
                # Gathers every candidate before it returns (no trickle).
                answer = await peer.answer(offer)
            except InvalidRequest as exc:
                raise InvalidOffer(exc.message) from exc
            if not tracks.tracks:
                raise InvalidOffer(
                    f"none of the offered {'/'.join(kinds)} codecs can be "
                    "received here (video: VP8 or H.264; audio: Opus, PCMU, PCMA)"
                )
            self.resources[resource.id] = resource
            for track in tracks.tracks:
                role: Role = "microphone" if track.kind == "audio" else "camera"
                await media.publish(track, origin=resource.origin, role=role)
        except BaseException:
            self.resources.pop(resource.id, None)
            await media.unpublish_origin(resource.origin)
            await peer.close()
            raise
        self._started(resource)
        logger.info(
            "Whip(%s) %s publishes %s into session %s",
            resource.id,
            publisher,
            "+".join(t.kind for t in tracks.tracks),
            media.session_id,
        )
        return resource, answer

    async def _release(self, resource: WhipResource) -> None:
        await resource.media.unpublish_origin(resource.origin)

    async def _watch(self, resource: WhipResource) -> None:
        """Drop a connected publisher whose RTP stops (killed without a DELETE).

        "RTP arrived" is the newest packet time of any source the receivers heard
        (``getSynchronizationSources``, stamped by aiortc per packet, retransmissions
        included; its ``getStats`` is no help: a retransmission stream overwrites the
        media stream's packet count under the same stats id). Silence is counted only
        over checks that ran on time: after the event loop was late (a long join, a
        process starved of CPU) the packets of that time may still wait unread in the
        socket, so that interval proves nothing.
        """
        receivers = [t.receiver for t in resource.peer.pc.getTransceivers()]
        newest: datetime.datetime | None = None
        silent_s = 0.0
        limit_s = FIRST_MEDIA_TIMEOUT_S
        while resource.id in self.resources:
            started = time.monotonic()
            await asyncio.sleep(MEDIA_CHECK_INTERVAL_S)
            waited_s = time.monotonic() - started
            stamps = [source.timestamp for receiver in receivers
                      for source in receiver.getSynchronizationSources()]
            latest = max(stamps, default=None)
            if latest is not None and (newest is None or latest > newest):
                newest, silent_s, limit_s = latest, 0.0, MEDIA_SILENCE_S
            elif waited_s <= MEDIA_CHECK_INTERVAL_S * LATE_FACTOR:
                silent_s += waited_s
                if silent_s >= limit_s:
                    logger.warning("Whip(%s) no RTP for %.1f s (publisher gone without "
                                   "DELETE?); removing it", resource.id, silent_s)
                    await self.remove(resource)
                    return


class _TrackCollector:
    """The peer listener of a WHIP peer: keeps the tracks the publisher sends."""

    def __init__(self) -> None:
        self.tracks: list[MediaStreamTrack] = []

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        pass

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        self.tracks.append(track)
