"""Who is calling an HTTP endpoint, and as whom they act in a session.

A caller holds either the server's API secret (a trusted backend: it acts as
the system actor) or a join token (it acts as the participant the token names,
in that token's session only).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from rtc_server.base.access import require_staff
from rtc_server.base.exceptions import PermissionDenied
from rtc_server.base.identity import Identity

from .exceptions import TokenMissing
from .keys import CLASSROOM, CONFIG
from .tokens import verify_token

__all__ = ["Principal", "acting_in", "authenticate", "authorize", "bearer", "principal"]


@dataclass(frozen=True)
class Principal:
    """``identity`` is None for a caller holding the API secret (a trusted backend)."""

    identity: Identity | None

    @property
    def is_api(self) -> bool:
        return self.identity is None


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.query.get("token") or None


def authenticate(request: web.Request, secret: str) -> Principal:
    """Raise a TokenError subclass when there is no valid credential."""
    token = bearer(request)
    if token is None:
        raise TokenMissing("no credential: send Authorization: Bearer <api secret or join token>")
    if hmac.compare_digest(token.encode(), secret.encode()):
        return Principal(identity=None)
    return Principal(identity=verify_token(secret, token))


def principal(request: web.Request) -> Principal:
    return authenticate(request, request.app[CONFIG].api_secret)


async def authorize(request: web.Request, session_id: str, *, staff: bool, action: str
                    ) -> Identity:
    """Who acts on ``session_id`` for this request: checked credential, session, role, and
    (for a token) that it was not issued before the class was reopened."""
    who = acting_in(principal(request), session_id, staff=staff, action=action)
    if not who.is_system:
        await request.app[CLASSROOM].check_credential(who)
    return who


def acting_in(caller: Principal, session_id: str, *, staff: bool, action: str) -> Identity:
    """The identity acting on ``session_id``: the token's, or the system actor for the API."""
    if caller.identity is None:
        return Identity.system(session_id, "api")
    who = caller.identity
    if who.session_id != session_id:
        raise PermissionDenied(f"your token is for session {who.session_id!r}, not {session_id!r}")
    if staff:
        require_staff(who, action)
    return who
