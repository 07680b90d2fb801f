"""Session state behind one small interface.

Two implementations: :class:`~rtc_server.state.memory_store.MemoryStore` (the
embedded default) and :class:`~rtc_server.state.redis_store.RedisStore`. Callers
never know which one they have. Every mutating call is atomic with respect
to other callers, including other server processes (the Redis store uses
Lua scripts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SessionStatus = Literal["active", "ended"]
SESSION_TTL_S = 24 * 3600


@dataclass(kw_only=True)
class Participant:
    user_id: str
    name: str
    role: str
    connections: int = 0
    last_seen_ms: int = 0


@dataclass(kw_only=True)
class SessionRecord:
    """A class, with the seed's fields."""

    id: str
    teacher_id: str
    subject: str = ""
    grade_level: str = ""
    current_topic: str = ""
    status: SessionStatus = "active"
    created_at_ms: int = 0
    updated_at_ms: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)
    # Named groups (breakouts) -> member user ids; built-in groups follow from roles.
    groups: dict[str, list[str]] = field(default_factory=dict)
    content_history: list[dict[str, Any]] = field(default_factory=list)
    interaction_history: list[dict[str, Any]] = field(default_factory=list)
    ai_context: dict[str, Any] = field(default_factory=dict)

    def to_json(self, *, history: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["participants"] = [asdict(p) for p in self.participants.values()]
        if not history:
            data["content_history"] = len(self.content_history)
            data["interaction_history"] = len(self.interaction_history)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionRecord:
        values = dict(data)
        parts = values.pop("participants", []) or []
        if isinstance(parts, dict):
            parts = list(parts.values())
        record = cls(**values)
        record.participants = {p["user_id"]: Participant(**p) for p in parts}
        return record


EDITABLE_FIELDS = frozenset({"subject", "grade_level", "current_topic"})
HISTORY_MAX = 500


class SessionStore(ABC):
    @abstractmethod
    async def create(self, record: SessionRecord) -> SessionRecord:
        """Store a new session; raise InvalidRequest if the id is taken by an active one."""

    @abstractmethod
    async def get(self, session_id: str) -> SessionRecord | None: ...

    @abstractmethod
    async def status(self, session_id: str) -> SessionStatus | None:
        """The session's status alone (cheap: on every broadcast); None if unknown."""

    @abstractmethod
    async def update(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        """Set some of :data:`EDITABLE_FIELDS` atomically; raise SessionNotFound."""

    @abstractmethod
    async def update_context(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        """Merge ``changes`` into ``ai_context`` atomically (no lost concurrent update)."""

    @abstractmethod
    async def end(self, session_id: str) -> SessionRecord: ...

    @abstractmethod
    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int
    ) -> Participant:
        """Add ``delta`` to a participant's open connections (creating the participant)."""

    @abstractmethod
    async def set_group(
        self, session_id: str, group: str, *, add: list[str], remove: list[str]
    ) -> list[str]:
        """Change a named group's members; return the members after the change."""

    @abstractmethod
    async def append_history(
        self, session_id: str, kind: Literal["content", "interaction"], entry: dict[str, Any]
    ) -> None:
        """Append to content or interaction history (bounded to HISTORY_MAX)."""

    @abstractmethod
    async def claim_message(self, session_id: str, user_id: str, message_id: str) -> bool:
        """Record that a client message id is being handled; False if it was seen before.

        This is how a message resent after a reconnect is handled once. Claims expire
        with the session (SESSION_TTL_S).
        """

    @abstractmethod
    async def release_message(self, session_id: str, user_id: str, message_id: str) -> None:
        """Forget a claim whose handling failed, so that a resend is handled again."""

    @abstractmethod
    async def set_cursor(self, session_id: str, user_id: str, seq: int) -> None:
        """Remember the highest seq delivered to the user (kept if larger than stored)."""

    @abstractmethod
    async def get_cursor(self, session_id: str, user_id: str) -> int:
        """The highest seq delivered to the user when they were last connected (0: never)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
