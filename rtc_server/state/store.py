"""Session state behind one small interface.

Two implementations: :class:`~rtc_server.state.memory_store.MemoryStore` (the
embedded default) and :class:`~rtc_server.state.redis_store.RedisStore`. Callers
never know which one they have. Every mutating call is atomic with respect
to other callers, including other server processes (the Redis store uses
Lua scripts).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SessionStatus = Literal["active", "ended"]
SESSION_TTL_S = 24 * 3600


@dataclass(kw_only=True)
class Participant:
    """Kept per participant, apart from the session record: a join or a leave reads and
    writes only its own participant (O(1) however large the class is)."""

    user_id: str
    name: str
    role: str
    connections: int = 0
    last_seen_ms: int = 0
    #: "browser", "app", "bot" or "" (what the last connection said it is).
    device: str = ""
    #: The teacher removed this user from the class: their joins are refused.
    removed: bool = False


@dataclass(kw_only=True)
class SessionRecord:
    """A class, with the seed's fields."""

    id: str
    teacher_id: str
    subject: str = ""
    grade_level: str = ""
    current_topic: str = ""
    #: "ko", "en", ... ("" = the browser's language); planned length of the lesson.
    language: str = ""
    planned_minutes: int = 0
    #: The short code students join with ("" when the class has none).
    join_code: str = ""
    #: Tokens issued before this (ms; set when an admin reopens an ended class) are refused.
    tokens_after_ms: int = 0
    status: SessionStatus = "active"
    created_at_ms: int = 0
    updated_at_ms: int = 0
    #: Filled only when asked for (``get(..., participants=True)``): O(class size).
    participants: dict[str, Participant] = field(default_factory=dict)
    # Named groups (breakouts) -> member user ids; built-in groups follow from roles.
    groups: dict[str, list[str]] = field(default_factory=dict)
    content_history: list[dict[str, Any]] = field(default_factory=list)
    interaction_history: list[dict[str, Any]] = field(default_factory=list)
    ai_context: dict[str, Any] = field(default_factory=dict)
    #: (content, interaction) history lengths when the histories were not loaded.
    history_counts: tuple[int, int] | None = None

    def to_json(self, *, history: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "teacher_id": self.teacher_id, "subject": self.subject,
            "grade_level": self.grade_level, "current_topic": self.current_topic,
            "language": self.language, "planned_minutes": self.planned_minutes,
            "join_code": self.join_code, "tokens_after_ms": self.tokens_after_ms,
            "status": self.status, "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            "participants": [asdict(p) for p in self.participants.values()],
            "groups": {name: list(members) for name, members in self.groups.items()},
            "ai_context": dict(self.ai_context),
        }
        if history:
            data["content_history"] = list(self.content_history)
            data["interaction_history"] = list(self.interaction_history)
        else:
            counts = self.history_counts or (len(self.content_history),
                                             len(self.interaction_history))
            data["content_history"], data["interaction_history"] = counts
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionRecord:
        values = dict(data)
        parts = values.pop("participants", []) or []
        values.pop("history_counts", None)
        if isinstance(parts, dict):
            parts = list(parts.values())
        record = cls(**values)
        record.participants = {p["user_id"]: Participant(**p) for p in parts}
        return record


#: Join codes: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6


def taken_message(session_id: str, status: str) -> str:
    if status == "ended":
        return (f"session {session_id!r} has ended; a new class needs a new id (an admin "
                "can reopen it: POST /api/sessions/{id}/reopen)")
    return f"session {session_id!r} already exists"


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


EDITABLE_FIELDS = frozenset({"subject", "grade_level", "current_topic", "language",
                             "planned_minutes"})
HISTORY_MAX = 500


class SessionStore(ABC):
    #: This process among the processes sharing the store ("" when it has it alone).
    process_id: str = ""

    @abstractmethod
    async def create(self, record: SessionRecord) -> SessionRecord:
        """Store a new session; raise SessionExists if the id is taken (active or ended:
        an ended class stays ended — :meth:`reopen` is the explicit way back)."""

    @abstractmethod
    async def get(self, session_id: str, *, history: bool = True,
                  participants: bool = False) -> SessionRecord | None:
        """The record; without ``history`` only the histories' lengths (cheap), with
        ``participants`` every participant (O(class size): staff views only)."""

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
    async def reopen(self, session_id: str, now_ms: int) -> SessionRecord:
        """An ended session active again; tokens issued before ``now_ms`` stop working."""

    @abstractmethod
    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int,
        device: str = "",
    ) -> Participant:
        """Add ``delta`` to a participant's open connections (creating the participant).

        O(1): touches only this participant. Raises SessionNotFound."""

    @abstractmethod
    async def assign_join_code(self, session_id: str) -> str:
        """Give the session a new unused join code (kept as long as the session)."""

    @abstractmethod
    async def session_for_code(self, code: str) -> str | None:
        """The session a join code belongs to, or None."""

    async def heartbeat(self, now_ms: int) -> None:  # noqa: B027 - optional hook
        """This process is alive (shared stores keep a lease per process)."""

    async def reap_dead(self, now_ms: int) -> list[tuple[str, Participant]]:
        """Connections of processes that died, taken out of presence: (session, participant)
        changed. Nothing to do for a store only one process uses."""
        return []

    async def publish_worker(  # noqa: B027 - optional hook
        self, status: dict[str, Any], *, now_ms: int, ttl_ms: int
    ) -> None:
        """Show this process's status to the others until ``now_ms + ttl_ms`` (renewed with
        the lease). Nothing to share for a store only one process uses."""

    async def withdraw_worker(self) -> None:  # noqa: B027 - optional hook
        """Take this process's status away (it is stopping)."""

    async def live_workers(self, now_ms: int) -> list[dict[str, Any]]:
        """The statuses of the other live processes (those published and not expired)."""
        return []

    @abstractmethod
    async def get_participant(self, session_id: str, user_id: str) -> Participant | None:
        """One participant (O(1)); None if the user never joined."""

    @abstractmethod
    async def remove_participant(self, session_id: str, user_id: str) -> Participant:
        """Mark the user removed from the class (their joins are refused from now on)."""

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
    async def recent_history(
        self, session_id: str, kind: Literal["content", "interaction"], limit: int
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of a history, oldest first ([] if no session)."""

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
