"""The signaling WebSocket: token check before the upgrade, then one Connection per socket."""

from __future__ import annotations

import logging
import secrets

from aiohttp import WSMsgType, web

from rtc_server.base.exceptions import ClassroomError, SessionNotFound
from rtc_server.base.json_input import MAX_SAFE_INTEGER
from rtc_server.base.protocol import encode_reply, error_reply
from rtc_server.core.connection import Connection

from .auth import bearer
from .exceptions import TokenError
from .http_api import json_error
from .keys import CLASSROOM, CONFIG, SERVICES
from .tokens import RESUME, RESUME_TTL_S, mint_resume_token, verify_token

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
#: What a client may say it is (``/ws?client=``): shown on the teacher's roster.
DEVICES = frozenset({"browser", "app", "bot"})
# A ping every 10 s; aiohttp gives up when the pong is 5 s late: a dead client is noticed
# within ~15 s, and a busy machine's late pong does not cut a live one off.
WS_HEARTBEAT_S = 10.0


@routes.get("/ws")
async def websocket(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    classroom = request.app[CLASSROOM]
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_allowed(request, origin, config.allowed_origins):
        return json_error(403, "forbidden", f"WebSocket connections from {origin!r} are not "
                          "allowed (see --allowed-origins)")
    # Refuse before the upgrade, so that clients see a plain 401/404/410 with a reason.
    resume = request.query.get("resume")
    try:
        if resume:
            identity = verify_token(config.api_secret, resume, typ=RESUME)
        else:
            identity = verify_token(config.api_secret, bearer(request))
    except TokenError as exc:
        return json_error(401, exc.code, exc.message)
    resume_after: int | None = None
    if "last_seq" in request.query:
        try:
            resume_after = int(request.query["last_seq"])
            if not 0 <= resume_after <= MAX_SAFE_INTEGER:
                raise ValueError
        except ValueError:
            return json_error(400, "malformed_message",
                              "last_seq must be an integer from 0 to 2^53")
    try:
        classroom.joins_admission.check()  # a full queue answers 503 before the upgrade
        record = await classroom.active_session(identity.session_id, history=False)
        await classroom.check_credential(identity, record)
    except SessionNotFound:
        if not identity.is_staff:
            return json_error(404, "session_not_found",
                              f"session {identity.session_id!r} does not exist")
        # A teacher opening a class that does not exist yet creates it.
        await classroom.create_session(session_id=identity.session_id,
                                       teacher_id=identity.user_id)
    except ClassroomError as exc:
        return json_error(exc.http_status, exc.code, exc.message, **exc.details)

    # aiohttp closes with 1009 above max_msg_size; allow some room so that moderately
    # oversized messages get a readable error reply instead.
    ws = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S,
                               max_msg_size=config.max_message_bytes * 4)
    await ws.prepare(request)
    conn = Connection(
        f"c-{secrets.token_hex(4)}", identity, ws, config, request.app[SERVICES].dispatcher,
        prefer_websocket=request.query.get("transport") == "websocket",
        device=request.query.get("client", "") if request.query.get("client") in DEVICES
        else "",
        latency=classroom.latency,
    )
    try:
        async with classroom.joins_admission.admit():
            welcome = await classroom.join(conn, resume_after=resume_after,
                                           snapshot=request.query.get("snapshot") != "0")
    except ClassroomError as exc:
        await ws.send_str(error_reply(identity.session_id, exc.code, exc.message,
                                      **exc.details))
        await ws.close(code=4004, message=exc.code.encode())
        return ws
    # From here on the client is in the class: whatever happens (it closes before its
    # welcome, a send fails), it leaves again and its connection is closed.
    try:
        conn.resume_token_id = secrets.token_hex(8)
        welcome["resume_token"] = mint_resume_token(
            config.api_secret, identity, ttl_s=RESUME_TTL_S, token_id=conn.resume_token_id)
        if config.worker_id:
            welcome["worker"] = config.worker_id  # which of the --workers processes serves it
        await ws.send_str(encode_reply("welcome", welcome, session_id=identity.session_id))
        conn.start()
        if resume:
            # One resume token, one connection: an older one that used it is closed (4009).
            await classroom.replace_connections(conn, identity.token_id)
        logger.info("%r joined session %s", conn, identity.session_id)
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await conn.receive_ws(msg.data)
            elif msg.type == WSMsgType.ERROR:
                logger.info("%r WebSocket error: %s", conn, ws.exception())
                break
    except ConnectionError as exc:  # gone before or while we wrote to it
        logger.info("%r closed by the client early: %s", conn, exc)
    finally:
        await classroom.leave(conn)
        await conn.close()
        logger.info("%r left", conn)
    return ws


def _origin_allowed(request: web.Request, origin: str, allowed: tuple[str, ...]) -> bool:
    """Browsers send ``Origin``: accept our own origin and the configured ones."""
    if "*" in allowed or origin in allowed:
        return True
    return origin in (f"http://{request.host}", f"https://{request.host}")
