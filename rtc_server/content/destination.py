"""Where a content event goes: a session and an :class:`~rtc_server.base.protocol.Audience`.

The content pipeline publishes once per destination (never once per
recipient); the core serialises the event once and fans it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rtc_server.base.protocol import Audience, EventType

__all__ = ["Destination", "Publish", "profile_group_name"]


@dataclass(frozen=True, slots=True)
class Destination:
    """A session and who in it: the whole class, a named group, or one user."""

    session_id: str
    audience: Audience

    def __post_init__(self) -> None:
        kind, name = self.audience.kind, self.audience.name
        if kind != "session" and not name:
            raise ValueError(f"a {kind!r} audience needs a name")

    @classmethod
    def session(cls, session_id: str) -> Destination:
        return cls(session_id, Audience.session())

    @classmethod
    def group(cls, session_id: str, name: str) -> Destination:
        return cls(session_id, Audience.group(name))

    @classmethod
    def user(cls, session_id: str, user_id: str) -> Destination:
        return cls(session_id, Audience.user(user_id))

    @property
    def kind(self) -> str:
        return self.audience.kind

    @property
    def name(self) -> str | None:
        return self.audience.name

    def as_dict(self) -> dict[str, Any]:
        """The ``audience`` field of content events (``kind``, ``session_id``, ``name``)."""
        return {"kind": self.audience.kind, "session_id": self.session_id,
                "name": self.audience.name}


class Publish(Protocol):
    """Publishes one event to every member of ``to``; called once per event per destination."""

    async def __call__(self, to: Destination, type: EventType, payload: dict[str, Any]
                       ) -> None: ...


def profile_group_name(level: str, learning_style: str) -> str:
    """Group name used for personalised delivery: ``profile:<level>:<style>``."""
    return f"profile:{level}:{learning_style}"
