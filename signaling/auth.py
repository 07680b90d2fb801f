"""Who is calling an HTTP endpoint: the server's API secret, or a join token's bearer."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from .exceptions import TokenMissing
from .tokens import Identity, verify_token


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
