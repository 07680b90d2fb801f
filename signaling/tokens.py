"""Signed join tokens (JWT, HS256, via PyJWT).

PyJWT is used instead of hand-rolled HMAC so that signature, ``exp`` and
``nbf`` checks, algorithm pinning and clock-skew leeway follow RFC 7519.

Claims: ``sid`` session id, ``sub`` user id, ``name`` display name,
``role`` one of teacher/student/observer/admin, ``iat``/``exp`` seconds
since the epoch, ``jti`` unique token id, ``iss`` "classroom-rtc".
"""

from __future__ import annotations

import secrets
import time
from typing import cast

import jwt

from rtc_server.base.identity import ROLES, Identity, Role

from .exceptions import TokenExpired, TokenInvalid, TokenMissing

__all__ = ["RESUME", "RESUME_TTL_S", "ROLES", "Identity", "mint_resume_token", "mint_token",
           "verify_token"]

ISSUER = "classroom-rtc"
ALGORITHM = "HS256"
LEEWAY_S = 5
JOIN = "join"
RESUME = "resume"  # issued in the welcome; accepted only by /ws?resume=...
#: A resume token lives as long as a session's state is kept.
RESUME_TTL_S = 24 * 3600


def mint_token(
    secret: str,
    *,
    session_id: str,
    user_id: str,
    name: str,
    role: str,
    ttl_s: int,
    now_s: float | None = None,
    typ: str = "join",
    token_id: str | None = None,
) -> tuple[str, int]:
    """Return ``(token, expires_at)``; raises ``ValueError`` on a bad role or empty id."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not session_id or not user_id:
        raise ValueError("session_id and user_id must not be empty")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    now = int(time.time() if now_s is None else now_s)
    exp = now + int(ttl_s)
    claims = {
        "iss": ISSUER,
        "sid": session_id,
        "sub": user_id,
        "name": name or user_id,
        "role": role,
        "iat": now,
        "exp": exp,
        "jti": token_id or secrets.token_hex(8),
    }
    if typ != JOIN:
        claims["typ"] = typ
    return jwt.encode(claims, secret, algorithm=ALGORITHM), exp


def mint_resume_token(secret: str, who: Identity, *, ttl_s: int, token_id: str | None = None
                      ) -> str:
    """A credential to reconnect as ``who`` after a drop, even once the join token expired."""
    token, _ = mint_token(secret, session_id=who.session_id, user_id=who.user_id, name=who.name,
                          role=who.role, ttl_s=ttl_s, typ=RESUME, token_id=token_id)
    return token


def verify_token(secret: str, token: str | None, *, typ: str = JOIN) -> Identity:
    """Verify ``token``; raise TokenMissing, TokenExpired or TokenInvalid saying why."""
    if not token:
        raise TokenMissing("no token: pass ?token=... or an Authorization: Bearer header")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sid", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("token expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenInvalid("token signature does not match (forged or wrong secret)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenInvalid(f"token lacks claim {exc.claim!r}") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(f"token is not valid: {exc}") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise TokenInvalid(f"token role {role!r} is not one of {', '.join(ROLES)}")
    if claims.get("typ", JOIN) != typ:
        raise TokenInvalid(f"expected a {typ} token, got a {claims.get('typ', JOIN)} token")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not isinstance(sid, str) or not isinstance(sub, str) or not sid or not sub:
        raise TokenInvalid("token sid/sub must be non-empty strings")
    return Identity(
        session_id=sid,
        user_id=sub,
        name=str(claims.get("name") or sub),
        role=cast(Role, role),
        expires_at=int(claims["exp"]),
        issued_at=int(claims["iat"]),
        token_id=str(claims.get("jti") or ""),
    )
