"""WHIP ingest (RFC 9725), the HTTP side: an encoder (OBS, GStreamer, FFmpeg) publishes.

One ``POST /whip/{session_id}`` with an SDP offer creates a WHIP resource in
the media feature (:mod:`rtc_server.media.whip`); ``DELETE`` on the
``Location`` the POST returned ends it.

Choices this server makes where RFC 9725 leaves them open:

- **No trickle ICE, no ICE restart.** The answer carries all of the server's
  candidates, so a client needs no ``PATCH``; one that sends it gets
  ``405 Method Not Allowed`` with ``Allow: DELETE, OPTIONS``, the response RFC
  9725 (section 4.3.1) prescribes for servers without either. A client that
  loses connectivity POSTs again.
- **ICE servers** configured on the server are given as ``Link: rel="ice-server"``
  headers of the 201 response (section 4.6), not on ``OPTIONS``, which needs no
  credential: CORS preflights from browser WHIP clients carry none.
- **A late DELETE is done, not 404.** A ``DELETE`` for a resource that already
  ended (its connection closed or failed, its media stopped for 3 s, or it was
  deleted before) answers ``200``: the publication is gone, which is what the
  client asked for. Only an id this server never issued (or forgot: it keeps the
  last 1,024) is ``404``.
- **CORS** headers go on every ``/whip/`` response (credentials are bearer
  tokens, never cookies, so ``Access-Control-Allow-Origin: *`` is safe), and
  ``Location``/``ETag``/``Link`` are exposed to scripts.

Credentials are those of the HTTP API: the API secret, or a teacher/admin join
token for that session.
"""

from __future__ import annotations

import json

from aiohttp import web

from rtc_server.base.identity import Identity
from rtc_server.config import IceServer
from rtc_server.media.whip import InvalidOffer

from .auth import acting_in, principal
from .exceptions import TokenError
from .keys import CLASSROOM, CONFIG, MEDIA

__all__ = ["routes", "setup_whip"]

SDP = "application/sdp"
ENDPOINT_METHODS = "POST, OPTIONS"
RESOURCE_METHODS = "DELETE, OPTIONS"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Post",
    "Access-Control-Max-Age": "86400",
}

routes = web.RouteTableDef()


def _unauthorized(exc: TokenError, realm: str = "whip") -> web.HTTPUnauthorized:
    # The API's JSON error, plus the challenge RFC 6750 asks of a Bearer-protected resource.
    error = "invalid_request" if exc.code == "token_missing" else "invalid_token"
    return web.HTTPUnauthorized(
        text=json.dumps({"error": {"code": exc.code, "message": exc.message}}),
        content_type="application/json",
        headers={"WWW-Authenticate": f'Bearer realm="{realm}", error="{error}"'},
    )


def _authorize(request: web.Request, session_id: str, action: str) -> Identity:
    try:
        who = principal(request)
    except TokenError as exc:
        raise _unauthorized(exc) from exc
    return acting_in(who, session_id, staff=True, action=action)


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
    # Bytes, decoded here: aiohttp's text() fails with a 500 on a body that is not UTF-8
    # or names an unknown charset. Over the API's body limit: 413 (http_errors, JSON).
    try:
        offer = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidOffer(f"the SDP offer is not UTF-8 text: {exc.reason} at byte "
                           f"{exc.start}") from exc
    config = request.app[CONFIG]
    media = request.app[MEDIA]
    resource, answer = await media.whip.create(
        media.hub.session(session_id), config, offer, publisher=who.user_id
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
    await request.app[MEDIA].whip.delete(session_id, request.match_info["resource_id"])
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
    """Register the WHIP routes and CORS (the resources belong to the media feature)."""
    app.add_routes(routes)
    app.on_response_prepare.append(_cors)
