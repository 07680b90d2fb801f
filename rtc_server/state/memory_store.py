"""In-memory session store: the embedded default.

Participants are kept apart from the records (one dict per session), so a join
or leave costs the same in a class of 5 or 2,000; reading a record copies only
what the caller asked for.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

from rtc_server.base.exceptions import InvalidRequest, SessionExists, SessionNotFound
from rtc_server.base.protocol import now_ms as _now_ms

from .store import (
    EDITABLE_FIELDS,
    HISTORY_MAX,
    Participant,
    SessionRecord,
    SessionStatus,
    SessionStore,
    new_join_code,
)
from .store import (
    taken_message as _taken,
)


class MemoryStore(SessionStore):
    """Keeps sessions in a dict. Single-threaded asyncio makes each call atomic."""

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._participants: dict[str, dict[str, Participant]] = {}
        self._codes: dict[str, str] = {}
        self._claims: dict[str, set[tuple[str, str]]] = {}
        self._cursors: dict[tuple[str, str], int] = {}

    def _must(self, session_id: str) -> SessionRecord:
        record = self._sessions.get(session_id)
        if record is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return record

    async def create(self, record: SessionRecord) -> SessionRecord:
        existing = self._sessions.get(record.id)
        if existing is not None:
            raise SessionExists(_taken(record.id, existing.status))
        now = _now_ms()
        record.created_at_ms = record.created_at_ms or now
        record.updated_at_ms = now
        stored = copy.deepcopy(record)
        self._participants[record.id] = stored.participants
        stored.participants = {}
        self._sessions[record.id] = stored
        return record

    async def get(self, session_id: str, *, history: bool = True,
                  participants: bool = False) -> SessionRecord | None:
        record = self._sessions.get(session_id)
        if record is None:
            return None
        return self._copy(record, history=history, participants=participants)

    def _copy(self, record: SessionRecord, *, history: bool, participants: bool
              ) -> SessionRecord:
        # History entries are deep-copied on the way in and never changed: sharing them
        # is safe, and copying only the lists keeps a read cheap.
        out = dataclasses.replace(
            record, groups={g: list(m) for g, m in record.groups.items()},
            ai_context=copy.deepcopy(record.ai_context),
            content_history=list(record.content_history) if history else [],
            interaction_history=list(record.interaction_history) if history else [],
            history_counts=None if history else (len(record.content_history),
                                                 len(record.interaction_history)),
            participants={u: dataclasses.replace(p) for u, p in
                          self._participants.get(record.id, {}).items()}
            if participants else {},
        )
        return out

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
        return self._copy(record, history=False, participants=False)

    async def update_context(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        record = self._must(session_id)
        record.ai_context.update(copy.deepcopy(changes))
        record.updated_at_ms = _now_ms()
        return self._copy(record, history=False, participants=False)

    async def reopen(self, session_id: str, now_ms: int) -> SessionRecord:
        record = self._must(session_id)
        record.status = "active"
        record.tokens_after_ms = now_ms
        record.updated_at_ms = now_ms
        return self._copy(record, history=False, participants=False)

    async def end(self, session_id: str) -> SessionRecord:
        record = self._must(session_id)
        record.status = "ended"
        record.updated_at_ms = _now_ms()
        return self._copy(record, history=False, participants=False)

    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int,
        device: str = "",
    ) -> Participant:
        self._must(session_id)
        parts = self._participants.setdefault(session_id, {})
        part = parts.get(user_id)
        if part is None:
            part = parts[user_id] = Participant(user_id=user_id, name=name, role=role)
        part.connections = max(0, part.connections + delta)
        part.last_seen_ms = now_ms
        part.name = name or part.name
        part.device = device or part.device
        return dataclasses.replace(part)

    async def assign_join_code(self, session_id: str) -> str:
        record = self._must(session_id)
        code = new_join_code()
        while code in self._codes:
            code = new_join_code()
        self._codes[code] = session_id
        record.join_code = code
        return code

    async def session_for_code(self, code: str) -> str | None:
        return self._codes.get(code)

    async def get_participant(self, session_id: str, user_id: str) -> Participant | None:
        part = self._participants.get(session_id, {}).get(user_id)
        return dataclasses.replace(part) if part is not None else None

    async def remove_participant(self, session_id: str, user_id: str) -> Participant:
        self._must(session_id)
        parts = self._participants.setdefault(session_id, {})
        part = parts.get(user_id)
        if part is None:
            part = parts[user_id] = Participant(user_id=user_id, name=user_id, role="student")
        part.removed = True
        return dataclasses.replace(part)

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

    async def recent_history(
        self, session_id: str, kind: Literal["content", "interaction"], limit: int
    ) -> list[dict[str, Any]]:
        record = self._sessions.get(session_id)
        if record is None or limit <= 0:
            return []
        history = record.content_history if kind == "content" else record.interaction_history
        return list(history[-limit:])

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
