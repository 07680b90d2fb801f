"""WHEP egress, the HTTP side: any WHEP player (OBS, GStreamer ``whepsrc``, browser
players, FFmpeg) pulls a rung of a class's video and audio.

``POST /whep/{session_id}[?rung=high|medium|low]`` with a receive-only SDP offer
creates a WHEP resource in the media feature (:mod:`rtc_server.media.whep`);
``DELETE`` on the ``Location`` the POST returned ends it. Status codes and
headers follow the WHIP endpoint (:mod:`.whip_api`): ``201`` with ``Location``,
``ETag`` and ``Link: rel="ice-server"``; no trickle ICE or ICE restart (``PATCH``
is ``405``); a late ``DELETE`` is ``200``; CORS on every ``/whep/`` response.

Credentials: the API secret, or any join token for that session (a student's
viewer token included: watching is what a student may do).
"""

from __future__ import annotations

import json

from aiohttp import web

from rtc_server.media.whip import InvalidOffer

from .auth import acting_in, principal
from .exceptions import TokenError
from .keys import CLASSROOM, CONFIG, MEDIA
from .whip_api import CORS_HEADERS, RESOURCE_METHODS, SDP, _link_header, _unauthorized

__all__ = ["routes", "setup_whep"]

ENDPOINT_METHODS = "POST, OPTIONS"

routes = web.RouteTableDef()


async def _authorize(request: web.Request, session_id: str, action: str) -> str:
    """The user id of the credential (``api`` for the secret)."""
    try:
        caller = principal(request)
    except TokenError as exc:
        raise _unauthorized(exc, realm="whep") from exc
    who = acting_in(caller, session_id, staff=False, action=action)
    if not who.is_system:
        await request.app[CLASSROOM].check_credential(who)
    return who.user_id


@routes.post("/whep/{session_id}")
async def whep_play(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    viewer = await _authorize(request, session_id, "play media over WHEP")
    if request.content_type.lower() != SDP:
        raise web.HTTPUnsupportedMediaType(
            text=json.dumps({"error": {
                "code": "unsupported_media_type",
                "message": f"send the SDP offer as Content-Type: {SDP}, "
                           f"not {request.content_type!r}"}}),
            content_type="application/json")
    await request.app[CLASSROOM].active_session(session_id)  # 404 / 410
    try:
        offer = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidOffer(f"the SDP offer is not UTF-8 text: {exc.reason} at byte "
                           f"{exc.start}") from exc
    config = request.app[CONFIG]
    media = request.app[MEDIA]
    resource, answer = await media.whep.create(
        media.hub.session(session_id), config, offer, viewer=viewer,
        rung=request.query.get("rung"))
    response = web.Response(status=201, text=answer, content_type=SDP,
                            headers={"Location": resource.location, "ETag": resource.etag})
    for server in config.ice_servers:
        response.headers.add("Link", _link_header(server))
    return response


@routes.delete("/whep/{session_id}/{resource_id}")
async def whep_delete(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    await _authorize(request, session_id, "end a WHEP playback")
    await request.app[MEDIA].whep.delete(session_id, request.match_info["resource_id"])
    return web.Response(status=200)


@routes.patch("/whep/{session_id}/{resource_id}")
async def whep_patch(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"code": "method_not_allowed",
                   "message": "trickle ICE and ICE restarts are not supported: the answer "
                   "already holds all server candidates; to reconnect, DELETE this resource "
                   "and POST again"}},
        status=405, headers={"Allow": RESOURCE_METHODS})


@routes.route("OPTIONS", "/whep/{session_id}")
async def whep_endpoint_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Accept-Post": SDP, "Allow": ENDPOINT_METHODS})


@routes.route("OPTIONS", "/whep/{session_id}/{resource_id}")
async def whep_resource_options(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Allow": RESOURCE_METHODS})


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/whep/"):
        for name, value in CORS_HEADERS.items():
            response.headers.setdefault(name, value)


def setup_whep(app: web.Application) -> None:
    """Register the WHEP routes and CORS (the resources belong to the media feature)."""
    app.add_routes(routes)
    app.on_response_prepare.append(_cors)
