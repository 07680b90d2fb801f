"""WHIP ingest (RFC 9725): an encoder (OBS, GStreamer, FFmpeg) publishes into a session.

One ``POST /whip/{session_id}`` with an SDP offer creates a server peer
connection (a "WHIP session"); its tracks are published into the session's
media like a teacher's camera and microphone (origin ``whip:<resource id>``),
so students see them through the same ladder. ``DELETE`` on the ``Location``
the POST returned ends it.

Choices this server makes where RFC 9725 leaves them open:

- **No trickle ICE, no ICE restart.** The answer carries all of the server's
  candidates (aiortc gathers them before it answers), so a client needs no
  ``PATCH``; one that sends it gets ``405 Method Not Allowed`` with
  ``Allow: DELETE, OPTIONS``, the response RFC 9725 (section 4.3.1) prescribes
  for servers without either. A client that loses connectivity POSTs again.
- **ICE servers** configured on the server are given as ``Link: rel="ice-server"``
  headers of the 201 response (section 4.6), not on ``OPTIONS``, which needs no
  credential: CORS preflights from browser WHIP clients carry none.
- **CORS** headers go on every ``/whip/`` response (credentials are bearer
  tokens, never cookies, so ``Access-Control-Allow-Origin: *`` is safe), and
  ``Location``/``ETag``/``Link`` are exposed to scripts.

Credentials are those of the HTTP API: the API secret, or a teacher/admin join
token for that session. A resource whose peer connection fails, closes, or
does not connect within :data:`CONNECT_TIMEOUT_S` is removed and unpublished.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from rtc_server.background import BackgroundTasks
from rtc_server.config import Config, IceServer
from rtc_server.exceptions import ClassroomError, InvalidRequest
from rtc_server.ice import advertise_address, rtc_configuration
from rtc_server.media.hub import Role, SessionMedia
from rtc_server.peer import check_offer_sdp

from .exceptions import TokenError
from .http_api import _acting_in, _principal
from .keys import CLASSROOM, CONFIG, MEDIA
from .tokens import Identity

__all__ = ["WHIP", "WhipResource", "WhipResources", "setup_whip"]

logger = logging.getLogger(__name__)

SDP = "application/sdp"
#: A publisher that has not connected by then (gone after its POST, or blocked UDP) is dropped.
CONNECT_TIMEOUT_S = 30.0
#: Closing a peer connection on shutdown should take milliseconds; never wait longer than this.
CLOSE_TIMEOUT_S = 5.0
ENDPOINT_METHODS = "POST, OPTIONS"
RESOURCE_METHODS = "DELETE, OPTIONS"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Post",
    "Access-Control-Max-Age": "86400",
}


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
    pc: RTCPeerConnection
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
    return sending


class WhipResources:
    """The WHIP sessions of this process, owned by the app (see :func:`setup_whip`)."""

    def __init__(self) -> None:
        self.resources: dict[str, WhipResource] = {}
        self._tasks = BackgroundTasks("WhipResources")
        self._closing = False

    def get(self, session_id: str, resource_id: str) -> WhipResource:
        resource = self.resources.get(resource_id)
        if resource is None or resource.session_id != session_id:
            raise WhipResourceNotFound(
                f"no WHIP resource {resource_id!r} in session {session_id!r} "
                "(it was deleted, its connection failed, or it never existed)"
            )
        return resource

    async def create(
        self, media: SessionMedia, config: Config, offer: str, *, publisher: str
    ) -> tuple[WhipResource, str]:
        """Answer ``offer`` and publish its tracks; returns the resource and the answer SDP."""
        if self._closing:
            raise InvalidRequest("the server is shutting down")
        kinds = sending_kinds(offer)
        pc = RTCPeerConnection(configuration=rtc_configuration(config.ice_servers))
        resource = WhipResource(
            id=secrets.token_urlsafe(12),
            session_id=media.session_id,
            publisher=publisher,
            pc=pc,
            media=media,
        )
        tracks: list[MediaStreamTrack] = []
        pc.on("track", tracks.append)

        @pc.on("connectionstatechange")
        def _state() -> None:
            logger.info("Whip(%s) connection %s", resource.id, pc.connectionState)
            if pc.connectionState == "connected":
                resource.connected.set()
            elif pc.connectionState in ("failed", "closed"):
                self._spawn(self.remove(resource))

        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            except Exception as exc:  # aiortc raises ValueError/KeyError/... on SDP it rejects
                raise InvalidOffer(f"invalid SDP offer: {exc or type(exc).__name__}") from exc
            # setLocalDescription gathers every candidate before it returns (no trickle).
            await pc.setLocalDescription(await pc.createAnswer())
            if not tracks:
                raise InvalidOffer(
                    f"none of the offered {'/'.join(kinds)} codecs can be "
                    "received here (video: VP8 or H.264; audio: Opus, PCMU, PCMA)"
                )
            answer = advertise_address(pc.localDescription.sdp, config.ice_advertise_address)
            self.resources[resource.id] = resource
            for track in tracks:
                role: Role = "microphone" if track.kind == "audio" else "camera"
                await media.publish(track, origin=resource.origin, role=role)
        except BaseException:
            self.resources.pop(resource.id, None)
            await media.unpublish_origin(resource.origin)
            await pc.close()
            raise
        self._spawn(self._expect_connection(resource))
        logger.info(
            "Whip(%s) %s publishes %s into session %s",
            resource.id,
            publisher,
            "+".join(t.kind for t in tracks),
            media.session_id,
        )
        return resource, answer

    async def remove(self, resource: WhipResource) -> None:
        """Close the peer connection and unpublish (idempotent)."""
        if self.resources.pop(resource.id, None) is None:
            return
        logger.info("Whip(%s) ends (session %s)", resource.id, resource.session_id)
        try:
            await resource.media.unpublish_origin(resource.origin)
        finally:
            await resource.pc.close()

    async def _expect_connection(self, resource: WhipResource) -> None:
        try:
            await asyncio.wait_for(resource.connected.wait(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            logger.warning(
                "Whip(%s) did not connect within %.0f s; removing it",
                resource.id,
                CONNECT_TIMEOUT_S,
            )
            await self.remove(resource)

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


WHIP = web.AppKey("whip", WhipResources)
routes = web.RouteTableDef()


def _unauthorized(exc: TokenError) -> web.HTTPUnauthorized:
    # The API's JSON error, plus the challenge RFC 6750 asks of a Bearer-protected resource.
    error = "invalid_request" if exc.code == "token_missing" else "invalid_token"
    return web.HTTPUnauthorized(
        text=json.dumps({"error": {"code": exc.code, "message": exc.message}}),
        content_type="application/json",
        headers={"WWW-Authenticate": f'Bearer realm="whip", error="{error}"'},
    )


def _authorize(request: web.Request, session_id: str, action: str) -> Identity:
    try:
        principal = _principal(request)
    except TokenError as exc:
        raise _unauthorized(exc) from exc
    return _acting_in(principal, session_id, staff=True, action=action)


def _link_header(server: IceServer) -> str:
    value = f'<{server.urls}>; rel="ice-server"'
    if server.username is not None:
        value += f'; username="{server.username}"'
    if server.credential is not None:
        value += f'; credential="{server.credential}"; credential-type="password"'
    return value


@routes.post("/whip/{session_id}")
async def whip_publish(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = _authorize(request, session_id, "publish media over WHIP")
    if request.content_type.lower() != SDP:
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps(
                {
                    "error": {
                        "code": "unsupported_media_type",
                        "message": f"send the SDP offer as Content-Type: {SDP}, "
                        f"not {request.content_type!r}",
                    }
                }
            ),
            content_type="application/json",
        )
    await request.app[CLASSROOM].active_session(session_id)  # 404 / 410
    offer = await request.text()
    config = request.app[CONFIG]
    resource, answer = await request.app[WHIP].create(
        request.app[MEDIA].session(session_id), config, offer, publisher=who.user_id
    )
    response = web.Response(
        status=201,
        text=answer,
        content_type=SDP,
        headers={"Location": resource.location, "ETag": resource.etag},
    )
    for server in config.ice_servers:
        response.headers.add("Link", _link_header(server))
    return response


@routes.delete("/whip/{session_id}/{resource_id}")
async def whip_delete(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    _authorize(request, session_id, "end a WHIP publication")
    whip = request.app[WHIP]
    await whip.remove(whip.get(session_id, request.match_info["resource_id"]))
    return web.Response(status=200)


@routes.patch("/whip/{session_id}/{resource_id}")
async def whip_patch(request: web.Request) -> web.Response:
    # No trickle ICE and no ICE restart (see the module docstring): RFC 9725 asks for 405.
    return web.json_response(
        {
            "error": {
                "code": "method_not_allowed",
                "message": "trickle ICE and ICE restarts are not supported: the answer already "
                "holds all server candidates; to reconnect, DELETE this resource and POST again",
            }
        },
        status=405,
        headers={"Allow": RESOURCE_METHODS},
    )


@routes.route("OPTIONS", "/whip/{session_id}")
async def whip_endpoint_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Accept-Post": SDP, "Allow": ENDPOINT_METHODS})


@routes.route("OPTIONS", "/whip/{session_id}/{resource_id}")
async def whip_resource_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Allow": RESOURCE_METHODS})


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/whip/"):
        for name, value in CORS_HEADERS.items():
            response.headers.setdefault(name, value)


def setup_whip(app: web.Application) -> None:
    """Register the WHIP routes, the resources object, CORS, and closing on shutdown."""
    whip = WhipResources()
    app[WHIP] = whip

    async def close(app: web.Application) -> None:
        # on_shutdown runs before cleanup_ctx teardown: the media hub and bus still exist.
        await whip.close()

    app.add_routes(routes)
    app.on_response_prepare.append(_cors)
    app.on_shutdown.append(close)
