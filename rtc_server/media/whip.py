"""WHIP ingest (RFC 9725), the domain side: an encoder's peer connection publishing into a class.

One WHIP session is a server :class:`~rtc_server.core.peer.Peer` answering the
encoder's offer; its tracks are published into the session's media like a
teacher's camera and microphone (origin ``whip:<resource id>``), so students
see them through the same ladder. The HTTP endpoint (status codes, headers,
CORS, credentials) is the edge's: ``signaling/whip_api.py``.

A resource whose peer connection fails, closes, or does not connect within
:data:`CONNECT_TIMEOUT_S` is removed and unpublished. So is one whose media stops:
no RTP for :data:`MEDIA_SILENCE_S` (an encoder killed without its ``DELETE``
would otherwise stay the class's source until ICE consent expires, about 35 s,
showing students a frozen picture). The newest publisher is what students see
(:meth:`SessionMedia.current`), so a restarted encoder takes over at once, even
before its killed predecessor is dropped. No trickle ICE: the answer carries all
of the server's candidates (aiortc gathers them before it answers).

A ``DELETE`` for a resource that already ended (connection closed, media stopped,
deleted before) is answered as done: the client's goal, the publication gone, is
met, and an encoder that lost its connection should not report an error when it
cleans up. The ids of the last :data:`ENDED_REMEMBERED` ended resources are kept
for that; an id never issued (or long forgotten) is 404.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import MediaStreamTrack
from aiortc.sdp import SessionDescription

from rtc_server.base.background import BackgroundTasks
from rtc_server.base.exceptions import ClassroomError, InvalidRequest
from rtc_server.config import Config
from rtc_server.core.peer import Peer, check_offer_sdp

from .hub import Role, SessionMedia

__all__ = ["InvalidOffer", "ResourceOwners", "WhipResource", "WhipResourceNotFound",
           "WhipResources"]

logger = logging.getLogger(__name__)

#: A publisher that has not connected by then (gone after its POST, or blocked UDP) is dropped.
CONNECT_TIMEOUT_S = 30.0
#: Closing a peer connection on shutdown should take milliseconds; never wait longer than this.
CLOSE_TIMEOUT_S = 5.0
#: A connected publisher whose RTP stops for this long is dropped (see module docstring).
MEDIA_SILENCE_S = 3.0
#: A connected publisher gets this long to send its first RTP packet.
FIRST_MEDIA_TIMEOUT_S = 10.0
#: How often the received packet counts are read.
MEDIA_CHECK_INTERVAL_S = 0.5
#: A check this many intervals late (the event loop was busy) does not count as silence.
LATE_FACTOR = 3.0
#: Ended resource ids remembered so that a late DELETE is answered as done.
ENDED_REMEMBERED = 1024


class ResourceOwners(Protocol):
    """Which process holds a WHIP/WHEP resource, when several serve the deployment (the
    media relay, :class:`~.relay.MediaRelay`): a ``DELETE`` that reaches another worker
    (``SO_REUSEPORT`` picks one per connection) is forwarded to the holder."""

    def claim(self, kind: str, session_id: str, resource_id: str) -> None: ...

    def release(self, kind: str, session_id: str, resource_id: str) -> None: ...

    async def forward_delete(self, kind: str, session_id: str, resource_id: str) -> bool: ...


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


class WhipResources:
    """The WHIP sessions of this process, owned by the app (see :func:`setup_whip`)."""

    def __init__(self) -> None:
        self.resources: dict[str, WhipResource] = {}
        #: resource id -> session id of resources that ended (newest last, bounded).
        self.ended: OrderedDict[str, str] = OrderedDict()
        self._tasks = BackgroundTasks("WhipResources")
        self._closing = False
        #: Set when several processes serve (see :class:`ResourceOwners`).
        self.owners: ResourceOwners | None = None

    def get(self, session_id: str, resource_id: str) -> WhipResource:
        resource = self.resources.get(resource_id)
        if resource is None or resource.session_id != session_id:
            raise WhipResourceNotFound(
                f"no WHIP resource {resource_id!r} in session {session_id!r} "
                "(it was deleted, its connection failed, or it never existed)"
            )
        return resource

    async def delete(self, session_id: str, resource_id: str) -> None:
        """End a publication by its id; one that already ended counts as done."""
        if self.ended.get(resource_id) == session_id:
            logger.info("Whip(%s) DELETE after it ended: done already", resource_id)
            return
        local = self.resources.get(resource_id)
        if (local is None or local.session_id != session_id) and self.owners is not None \
                and await self.owners.forward_delete("whip", session_id, resource_id):
            logger.info("Whip(%s) DELETE forwarded to the process holding it", resource_id)
            return
        await self.remove(self.get(session_id, resource_id))

    async def create(
        self, media: SessionMedia, config: Config, offer: str, *, publisher: str
    ) -> tuple[WhipResource, str]:
        """Answer ``offer`` and publish its tracks; returns the resource and the answer SDP."""
        if self._closing:
            raise InvalidRequest("the server is shutting down")
        kinds = sending_kinds(offer)
        resource_id = secrets.token_urlsafe(12)
        tracks = _TrackCollector()

        def on_state(state: str) -> None:
            logger.info("Whip(%s) connection %s", resource_id, state)
            if state == "connected":
                resource.connected.set()
            elif state in ("failed", "closed"):
                self._spawn(self.remove(resource))

        peer = Peer(f"whip:{resource_id}", config, on_state=on_state, listeners=(tracks,))
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
        self._spawn(self._supervise(resource))
        if self.owners is not None:
            self.owners.claim("whip", resource.session_id, resource.id)
        logger.info(
            "Whip(%s) %s publishes %s into session %s",
            resource.id,
            publisher,
            "+".join(t.kind for t in tracks.tracks),
            media.session_id,
        )
        return resource, answer

    async def remove(self, resource: WhipResource) -> None:
        """Close the peer connection and unpublish (idempotent)."""
        if self.resources.pop(resource.id, None) is None:
            return
        self.ended[resource.id] = resource.session_id
        while len(self.ended) > ENDED_REMEMBERED:
            self.ended.popitem(last=False)
        logger.info("Whip(%s) ends (session %s)", resource.id, resource.session_id)
        if self.owners is not None:
            self.owners.release("whip", resource.session_id, resource.id)
        try:
            await resource.media.unpublish_origin(resource.origin)
        finally:
            await resource.peer.close()

    async def _supervise(self, resource: WhipResource) -> None:
        """Remove the resource if it does not connect, or when its media stops."""
        try:
            await asyncio.wait_for(resource.connected.wait(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            logger.warning(
                "Whip(%s) did not connect within %.0f s; removing it",
                resource.id,
                CONNECT_TIMEOUT_S,
            )
            await self.remove(resource)
            return
        await self._watch_media(resource)

    async def _watch_media(self, resource: WhipResource) -> None:
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro, "resource")

    async def close(self) -> None:
        """Shutdown: refuse new publishers, close each peer, then cancel what is left."""
        self._closing = True
        resources = list(self.resources.values())
        if resources:
            done = asyncio.gather(*(self.remove(r) for r in resources), return_exceptions=True)
            try:
                await asyncio.wait_for(done, CLOSE_TIMEOUT_S)
            except TimeoutError:
                logger.warning("WhipResources: %d peer(s) did not close in time", len(resources))
        await self._tasks.close()


class _TrackCollector:
    """The peer listener of a WHIP peer: keeps the tracks the publisher sends."""

    def __init__(self) -> None:
        self.tracks: list[MediaStreamTrack] = []

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        pass

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        self.tracks.append(track)
