"""HTTP endpoints: tokens, sessions, groups, health and metrics (see docs/protocol.md)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rtc_server.base.access import require_staff
from rtc_server.base.exceptions import MalformedMessage, NotJson, PermissionDenied
from rtc_server.base.json_input import loads
from rtc_server.base.messages import Name, Target
from rtc_server.core.classroom import Classroom
from rtc_server.core.metrics import render

from .auth import authorize, principal
from .http_errors import errors_middleware, json_error, json_response
from .keys import CLASSROOM, CONFIG, SERVICES
from .tokens import ROLES, mint_token

routes = web.RouteTableDef()
M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 256 * 1024
#: A request body that has not fully arrived by then is refused (slow senders hold sockets).
BODY_TIMEOUT_S = 30.0
#: The event type ``POST /api/sessions/{id}/events`` publishes (docs/protocol.md).
POSTED_EVENT = "message"


class _Body(BaseModel):
    # Strict, as client messages are: "45" is no number (docs/protocol.md, section 2).
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenRequest(_Body):
    session_id: Name
    user_id: Name
    name: str = Field(default="", max_length=100)
    role: str
    ttl_s: int | None = Field(default=None, gt=0, le=7 * 24 * 3600)


Language = Annotated[str, Field(max_length=16, pattern=r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$")]


class SessionCreate(_Body):
    session_id: Name | None = None
    teacher_id: Name | None = None
    subject: str = Field(default="", max_length=200)
    grade_level: str = Field(default="", max_length=50)
    current_topic: str = Field(default="", max_length=500)
    language: Language = ""
    planned_minutes: int = Field(default=0, ge=0, le=600)
    ai_context: dict[str, Any] = Field(default_factory=dict)


class SessionPatch(_Body):
    subject: str | None = Field(default=None, max_length=200)
    grade_level: str | None = Field(default=None, max_length=50)
    current_topic: str | None = Field(default=None, max_length=500)
    language: Language | None = None
    planned_minutes: int | None = Field(default=None, ge=1, le=600)


class GroupChange(_Body):
    add: list[Name] = Field(default_factory=list)
    remove: list[Name] = Field(default_factory=list)


class EventPost(_Body):
    to: Target = Field(default_factory=lambda: Target(session=True))
    text: str = Field(default="", max_length=8000)
    data: dict[str, Any] | None = None


async def read_body(request: web.Request, model: type[M], *, max_bytes: int | None = None
                    ) -> M:
    """Parse and validate a JSON body (``max_bytes``: this endpoint's limit, not the API's).

    The body passes the checks of every client message (nesting, numbers, valid text);
    over the limit it is ``413 message_too_large``, not JSON ``422 malformed_json``,
    anything else wrong ``422 invalid_body`` naming the field.
    """
    limit = max_bytes or MAX_BODY_BYTES
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            if max_bytes is None:
                raw = await request.read()
            else:
                buffer = bytearray()
                while chunk := await request.content.read(65536):
                    buffer += chunk
                    if len(buffer) > limit:
                        raise web.HTTPRequestEntityTooLarge(limit, len(buffer))
                raw = bytes(buffer)
    except TimeoutError as exc:
        raise web.HTTPRequestTimeout(
            text=json.dumps({"error": {"code": "timeout", "message":
                                       f"the body did not arrive within {BODY_TIMEOUT_S:.0f} s"}}),
            content_type="application/json") from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise web.HTTPRequestEntityTooLarge(
            limit, request.content_length or 0,
            text=json.dumps({"error": {"code": "message_too_large",
                                       "message": f"body over {limit} bytes"}}),
            content_type="application/json",
        ) from exc
    try:
        # The checks of every client message: depth, numbers, valid text (json_input).
        data = loads(raw or b"{}", what="the body")
    except NotJson as exc:
        raise _bad("malformed_json", exc.message) from exc
    except MalformedMessage as exc:
        raise _bad("invalid_body", exc.message) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _bad("invalid_body", f"{where}: {first['msg']}") from exc


def invalid_body(message: str) -> web.HTTPException:
    """``422 invalid_body``: raise it for a body (or form field) that is wrong."""
    return _bad("invalid_body", message)


def _bad(code: str, message: str) -> web.HTTPException:
    return web.HTTPUnprocessableEntity(
        text=json.dumps({"error": {"code": code, "message": message}}),
        content_type="application/json",
    )


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 ``ok``; 503 ``degraded`` while the shared state (Redis) is unreachable (what is
    local keeps working: connected clients, replies), or ``stopping`` during shutdown."""
    services = request.app[SERVICES]
    classroom = services.classroom
    reachable = await services.storage.check()
    status = "stopping" if classroom.closing else "ok" if reachable else "degraded"
    return json_response({
        "status": status,
        "state": services.storage.backend,
        "shared_state": "ok" if reachable else "unreachable",
        # With --workers, which process answered (a request through the shared port
        # reaches any one of them); "0" for a single process.
        "worker": request.app[CONFIG].worker_id or "0",
        "pid": os.getpid(),
        "sessions_here": len(classroom.rooms),
        "connections_here": sum(len(r.connections) for r in classroom.rooms.values()),
    }, status=200 if status == "ok" else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=render(request.app[SERVICES].registry),
                        content_type="text/plain", charset="utf-8")


@routes.post("/api/tokens")
async def create_token(request: web.Request) -> web.Response:
    if not principal(request).is_api:
        raise PermissionDenied("minting tokens needs the API secret, not a join token")
    body = await read_body(request, TokenRequest)
    return _mint(request, body)


def _mint(request: web.Request, body: TokenRequest) -> web.Response:
    config = request.app[CONFIG]
    if body.role not in ROLES:
        raise _bad("invalid_body", f"role must be one of {', '.join(ROLES)}")
    token, exp = mint_token(
        config.api_secret, session_id=body.session_id, user_id=body.user_id,
        name=body.name or body.user_id, role=body.role, ttl_s=body.ttl_s or config.token_ttl_s,
    )
    page = "teacher" if body.role in ("teacher", "admin") else "student"
    return json_response({
        "token": token, "expires_at": exp,
        "join_url": f"{config.base_url}/{page}.html?token={token}",
    }, status=201)


@routes.get("/dev/join")
async def dev_join(request: web.Request) -> web.StreamResponse:
    """Development mode only: mint a token and open the page (links printed at start)."""
    config = request.app[CONFIG]
    if not config.dev:
        raise web.HTTPNotFound()
    role = request.query.get("role", "student")
    user = request.query.get("user") or f"{role}-{secrets.token_hex(3)}"
    body = TokenRequest(session_id=request.query.get("session", "demo"), user_id=user,
                        name=request.query.get("name", user), role=role)
    response = _mint(request, body)
    data = json.loads(response.text or "{}")
    if request.query.get("format") == "json":
        return response
    raise web.HTTPFound(data["join_url"])


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    caller = principal(request)
    if caller.identity is not None:  # refused before the body is read
        require_staff(caller.identity, "create a session")
    body = await read_body(request, SessionCreate)
    classroom = request.app[CLASSROOM]
    if caller.identity is None:
        if not body.session_id or not body.teacher_id:
            raise _bad("invalid_body", "session_id and teacher_id are required with the API secret")
        session_id, teacher_id = body.session_id, body.teacher_id
    else:
        who = caller.identity
        if body.session_id not in (None, who.session_id):
            raise PermissionDenied(f"your token is for session {who.session_id!r}")
        session_id, teacher_id = who.session_id, body.teacher_id or who.user_id
    record = await classroom.create_session(
        session_id=session_id, teacher_id=teacher_id, subject=body.subject,
        grade_level=body.grade_level, current_topic=body.current_topic, ai_context=body.ai_context,
        language=body.language, planned_minutes=body.planned_minutes,
    )
    return json_response(record.to_json(), status=201)


@routes.get("/api/sessions/{session_id}")
async def get_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=False, action="read the session")
    record = await request.app[CLASSROOM].get_session(session_id, history=False,
                                                       participants=who.is_staff)
    data = record.to_json()
    if not who.is_staff:
        data.pop("participants", None)
    return json_response(data)


@routes.patch("/api/sessions/{session_id}")
async def patch_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="change the session")
    body = await read_body(request, SessionPatch)
    record = await request.app[CLASSROOM].update_session(who, body.model_dump())
    return json_response(record.to_json())


@routes.post("/api/sessions/{session_id}/end")
async def end_session(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="end the session")
    record = await request.app[CLASSROOM].end_session(who)
    return json_response(record.to_json())


@routes.post("/api/sessions/{session_id}/reopen")
async def reopen_session(request: web.Request) -> web.Response:
    """Admin token of the session, or the API secret: an ended class active again. Tokens
    issued before now are refused from then on (links must be handed out anew)."""
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="reopen the class")
    record = await request.app[CLASSROOM].reopen_session(who)
    return json_response(record.to_json())


@routes.put("/api/sessions/{session_id}/groups/{group}")
async def put_group(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="change groups")
    body = await read_body(request, GroupChange)
    group = request.match_info["group"]
    members = await request.app[CLASSROOM].set_group(who, group, body.add, body.remove)
    return json_response({"group": group, "members": members})


@routes.post("/api/sessions/{session_id}/events")
async def post_event(request: web.Request) -> web.Response:
    """Send a ``message`` event into the session (a backend or the teacher's tools), through
    the installed feature that posts ``message`` events (``Feature.posts``)."""
    session_id = request.match_info["session_id"]
    post = request.app[SERVICES].features.poster(POSTED_EVENT)
    if post is None:
        raise web.HTTPNotFound(text=f"no installed feature posts {POSTED_EVENT!r} events")
    who = await authorize(request, session_id, staff=True, action="broadcast")
    # The limit of the same message sent over the WebSocket (docs/protocol.md, section 8).
    body = await read_body(request, EventPost, max_bytes=request.app[CONFIG].max_message_bytes)
    classroom: Classroom = request.app[CLASSROOM]
    await classroom.require_active(session_id)
    event = await post(who, body.to.audience(), body.text, body.data)
    return json_response({"seq": event.seq, "ts": event.ts_ms}, status=202)


__all__ = ["errors_middleware", "invalid_body", "json_error", "json_response", "read_body",
           "routes"]
