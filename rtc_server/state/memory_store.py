"""In-memory session store: the embedded default."""

from __future__ import annotations

import copy
from typing import Any, Literal

from rtc_server.base.exceptions import InvalidRequest, SessionNotFound
from rtc_server.base.protocol import now_ms as _now_ms

from .store import (
    EDITABLE_FIELDS,
    HISTORY_MAX,
    Participant,
    SessionRecord,
    SessionStatus,
    SessionStore,
)


class MemoryStore(SessionStore):
    """Keeps sessions in a dict. Single-threaded asyncio makes each call atomic."""

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._claims: dict[str, set[tuple[str, str]]] = {}
        self._cursors: dict[tuple[str, str], int] = {}

    def _must(self, session_id: str) -> SessionRecord:
        record = self._sessions.get(session_id)
        if record is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return record

    async def create(self, record: SessionRecord) -> SessionRecord:
        existing = self._sessions.get(record.id)
        if existing is not None and existing.status == "active":
            raise InvalidRequest(f"session {record.id!r} already exists")
        now = _now_ms()
        record.created_at_ms = record.created_at_ms or now
        record.updated_at_ms = now
        self._sessions[record.id] = copy.deepcopy(record)
        return record

    async def get(self, session_id: str) -> SessionRecord | None:
        record = self._sessions.get(session_id)
        return copy.deepcopy(record) if record is not None else None

    async def status(self, session_id: str) -> SessionStatus | None:
        record = self._sessions.get(session_id)
        return record.status if record is not None else None

    async def update(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        bad = set(changes) - EDITABLE_FIELDS
        if bad:
            raise InvalidRequest(f"fields {sorted(bad)} cannot be changed")
        record = self._must(session_id)
        for key, value in changes.items():
            setattr(record, key, value)
        record.updated_at_ms = _now_ms()
        return copy.deepcopy(record)

    async def update_context(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        record = self._must(session_id)
        record.ai_context.update(copy.deepcopy(changes))
        record.updated_at_ms = _now_ms()
        return copy.deepcopy(record)

    async def end(self, session_id: str) -> SessionRecord:
        record = self._must(session_id)
        record.status = "ended"
        record.updated_at_ms = _now_ms()
        return copy.deepcopy(record)

    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int
    ) -> Participant:
        record = self._must(session_id)
        part = record.participants.get(user_id)
        if part is None:
            part = record.participants[user_id] = Participant(user_id=user_id, name=name, role=role)
        part.connections = max(0, part.connections + delta)
        part.last_seen_ms = now_ms
        part.name = name or part.name
        record.updated_at_ms = now_ms
        return copy.deepcopy(part)

    async def set_group(
        self, session_id: str, group: str, *, add: list[str], remove: list[str]
    ) -> list[str]:
        record = self._must(session_id)
        members = record.groups.setdefault(group, [])
        for user in add:
            if user not in members:
                members.append(user)
        record.groups[group] = [m for m in members if m not in set(remove)]
        if not record.groups[group]:
            del record.groups[group]
            return []
        record.updated_at_ms = _now_ms()
        return list(record.groups[group])

    async def append_history(
        self, session_id: str, kind: Literal["content", "interaction"], entry: dict[str, Any]
    ) -> None:
        record = self._must(session_id)
        history = record.content_history if kind == "content" else record.interaction_history
        history.append(copy.deepcopy(entry))
        del history[:-HISTORY_MAX]
        record.updated_at_ms = _now_ms()

    async def claim_message(self, session_id: str, user_id: str, message_id: str) -> bool:
        claims = self._claims.setdefault(session_id, set())
        key = (user_id, message_id)
        if key in claims:
            return False
        claims.add(key)
        return True

    async def release_message(self, session_id: str, user_id: str, message_id: str) -> None:
        self._claims.get(session_id, set()).discard((user_id, message_id))

    async def set_cursor(self, session_id: str, user_id: str, seq: int) -> None:
        key = (session_id, user_id)
        self._cursors[key] = max(seq, self._cursors.get(key, 0))

    async def get_cursor(self, session_id: str, user_id: str) -> int:
        return self._cursors.get((session_id, user_id), 0)
