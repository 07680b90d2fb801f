"""Class setup for people: a teacher creates a class, students join with its code and a name.

==============================  =======================================================
``POST /api/classes``           create a class: ``{subject, grade_level, topic, language,
                                planned_minutes, teacher_name}`` → ``201 {session_id,
                                join_code, teacher_token, teacher_url, join_url}``. Needs
                                the API secret, unless the server runs with
                                ``--open-classes`` (or ``--dev``).
``GET /api/classes/{code}``     what a student sees before joining: ``{subject,
                                grade_level, topic, language, status}`` (no credential:
                                the code is the credential; nothing personal is shown)
``POST /api/join``              ``{code, name}`` → ``201 {token, session_id, user_id,
                                student_url}``: a student token for that class
==============================  =======================================================

Integrations that have their own accounts keep minting tokens with
``POST /api/tokens``; this is the path for a teacher without one.
Joining by code is rate-limited per client address (a code is short).
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata

from aiohttp import web
from pydantic import Field

from rtc_server.base.exceptions import PermissionDenied, RateLimited
from rtc_server.base.ratelimit import TokenBucket

from .auth import principal
from .http_api import Language, _Body, read_body
from .keys import CLASSROOM, CONFIG
from .tokens import mint_token

__all__ = ["setup_classes"]

routes = web.RouteTableDef()

#: Join attempts per client address: a burst for a classroom behind one NAT, then 2/s.
JOIN_BURST = 60
JOIN_RATE_PER_S = 2.0
_JOIN_BUCKETS = web.AppKey("join_buckets", dict[str, TokenBucket])


class ClassCreate(_Body):
    subject: str = Field(default="", max_length=200)
    grade_level: str = Field(default="", max_length=50)
    topic: str = Field(default="", max_length=500)
    language: Language = ""
    planned_minutes: int = Field(default=45, ge=1, le=600)
    teacher_name: str = Field(default="Teacher", min_length=1, max_length=64)


class JoinRequest(_Body):
    code: str = Field(min_length=4, max_length=12)
    name: str = Field(min_length=1, max_length=64)


def _slug(name: str) -> str:
    """A user id from a display name: ASCII letters and digits of it, plus a random tail."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:24] or "student"
    return f"{base}-{secrets.token_hex(3)}"


@routes.post("/api/classes")
async def create_class(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    if not config.open_classes and not config.dev:
        if not principal(request).is_api:
            raise PermissionDenied("creating a class needs the API secret (or a server "
                                   "started with --open-classes)")
    body = await read_body(request, ClassCreate)
    classroom = request.app[CLASSROOM]
    session_id = f"c-{secrets.token_hex(4)}"
    teacher_id = _slug(body.teacher_name)
    record = await classroom.create_session(
        session_id=session_id, teacher_id=teacher_id, subject=body.subject,
        grade_level=body.grade_level, current_topic=body.topic, language=body.language,
        planned_minutes=body.planned_minutes, join_code=True)
    token, expires = mint_token(config.api_secret, session_id=session_id, user_id=teacher_id,
                                name=body.teacher_name, role="teacher",
                                ttl_s=config.token_ttl_s)
    base = config.base_url
    return web.json_response({
        "session_id": session_id, "join_code": record.join_code,
        "teacher_token": token, "expires_at": expires,
        "teacher_url": f"{base}/teacher.html?token={token}",
        "join_url": f"{base}/join.html?code={record.join_code}",
    }, status=201)


@routes.get("/api/classes/{code}")
async def class_info(request: web.Request) -> web.Response:
    _limit(request)
    record = await request.app[CLASSROOM].session_for_code(request.match_info["code"])
    return web.json_response({"subject": record.subject, "grade_level": record.grade_level,
                              "topic": record.current_topic, "language": record.language,
                              "status": record.status})


@routes.post("/api/join")
async def join_class(request: web.Request) -> web.Response:
    _limit(request)
    body = await read_body(request, JoinRequest)
    name = " ".join(body.name.split())
    if not name:
        raise PermissionDenied("enter your name to join")
    config = request.app[CONFIG]
    record = await request.app[CLASSROOM].session_for_code(body.code)
    user_id = _slug(name)
    token, expires = mint_token(config.api_secret, session_id=record.id, user_id=user_id,
                                name=name, role="student", ttl_s=config.token_ttl_s)
    return web.json_response({
        "token": token, "expires_at": expires, "session_id": record.id, "user_id": user_id,
        "student_url": f"{config.base_url}/student.html?token={token}",
    }, status=201)


def setup_classes(app: web.Application) -> None:
    app[_JOIN_BUCKETS] = {}
    app.add_routes(routes)


def _limit(request: web.Request) -> None:
    buckets = request.app[_JOIN_BUCKETS]
    address = request.remote or "?"
    now = time.monotonic()
    bucket = buckets.get(address)
    if bucket is None:
        if len(buckets) > 10_000:  # bounded: forget everyone (they refill anyway)
            buckets.clear()
        bucket = buckets[address] = TokenBucket(rate_per_s=JOIN_RATE_PER_S, burst=JOIN_BURST,
                                                now_s=now)
    if not bucket.take(now):
        raise RateLimited(f"too many join attempts; try again in "
                          f"{bucket.retry_after_s():.0f} s")
