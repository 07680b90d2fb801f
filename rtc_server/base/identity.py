"""Who is acting: a participant named by a verified token, or the server itself.

An :class:`Identity` is what the edge (``signaling/tokens.py``) gets from a
verified join token. Server-side actions that no participant asked for (the
automatic hint rule, a supplement group, a backend holding the API secret) act
as a *system actor* (:meth:`Identity.system`): it passes every staff check, is
never a participant, and is never minted into a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["teacher", "student", "observer", "admin"]
#: The roles a join token can carry (a system actor is never a token).
ROLES: tuple[str, ...] = get_args(Role)
SYSTEM_ROLE: Literal["system"] = "system"


@dataclass(frozen=True, kw_only=True)
class Identity:
    """A participant (from a token) or the system (``role == "system"``)."""

    session_id: str
    user_id: str
    name: str
    role: Role | Literal["system"]
    expires_at: int = 0
    #: When the token was issued (seconds; ``iat``) and its id (``jti``); 0/"" for the system.
    issued_at: int = 0
    token_id: str = ""

    @classmethod
    def system(cls, session_id: str, purpose: str, *, name: str | None = None) -> Identity:
        """The server acting on its own (``purpose``: "api", "auto-hint", "supplement")."""
        return cls(session_id=session_id, user_id=purpose, name=name or purpose,
                   role=SYSTEM_ROLE)

    @property
    def is_system(self) -> bool:
        return self.role == SYSTEM_ROLE

    @property
    def is_staff(self) -> bool:
        """Teachers and admins run the class; the system acts for them."""
        return self.role in ("teacher", "admin", SYSTEM_ROLE)


__all__ = ["ROLES", "SYSTEM_ROLE", "Identity", "Role"]
