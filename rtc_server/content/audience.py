"""Who receives a content event.

The server core owns the real routing tables; this module only names the
target so that the content pipeline can publish once per audience.  The core
adapts an :class:`Audience` to its own group/room objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["Audience", "AudienceKind", "Publish", "profile_group_name"]

AudienceKind = Literal["session", "group", "user"]


@dataclass(frozen=True, slots=True)
class Audience:
    """One fan-out target: a whole session, a named group, or one user.

    ``name`` is the group name for ``kind="group"`` and the user id for
    ``kind="user"``; it is ``None`` for the whole session.
    """

    kind: AudienceKind
    session_id: str
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "session" and self.name is not None:
            raise ValueError("a session audience has no name")
        if self.kind != "session" and not self.name:
            raise ValueError(f"a {self.kind!r} audience needs a name")

    @classmethod
    def session(cls, session_id: str) -> Audience:
        return cls("session", session_id)

    @classmethod
    def group(cls, session_id: str, name: str) -> Audience:
        return cls("group", session_id, name)

    @classmethod
    def user(cls, session_id: str, user_id: str) -> Audience:
        return cls("user", session_id, user_id)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "session_id": self.session_id, "name": self.name}


class Publish(Protocol):
    """Publishes one event to every member of ``audience``.

    The core serialises the event once and fans it out; callers must call it
    once per event per audience, never once per recipient.
    """

    async def __call__(self, audience: Audience, type: str, payload: dict[str, Any]) -> None: ...


def profile_group_name(level: str, learning_style: str) -> str:
    """Group name used for personalised delivery: ``profile:<level>:<style>``."""
    return f"profile:{level}:{learning_style}"
