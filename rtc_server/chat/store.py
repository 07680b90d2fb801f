"""Where the chat of a session is kept: the last messages and who is muted.

:class:`MemoryChatStore` is the embedded default; :class:`~.redis_store.RedisChatStore`
shares the chat between server processes. The core's storage chooses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Any

__all__ = ["HISTORY_MAX", "REPLY_WINDOW", "ChatStore", "MemoryChatStore"]

#: Messages kept per session for the snapshot (older ones stay in the event log).
HISTORY_MAX = 200
#: How many of a session's newest message ids a ``reply_to`` may name (ids only, so that
#: a reply to a message older than the snapshot's 200 is still accepted).
REPLY_WINDOW = 2000


class ChatStore(ABC):
    @abstractmethod
    async def append(self, session_id: str, message: dict[str, Any]) -> None:
        """Keep ``message`` (its payload, with ``seq``); only the newest HISTORY_MAX stay."""

    @abstractmethod
    async def recent(self, session_id: str) -> list[dict[str, Any]]:
        """The kept messages, oldest first."""

    @abstractmethod
    async def has_message(self, session_id: str, message_id: str) -> bool:
        """Whether ``message_id`` is one of the session's last REPLY_WINDOW messages."""

    @abstractmethod
    async def set_muted(self, session_id: str, user_id: str, muted: bool) -> None: ...

    @abstractmethod
    async def muted(self, session_id: str) -> set[str]: ...

    async def is_muted(self, session_id: str, user_id: str) -> bool:
        return user_id in await self.muted(session_id)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the store holds."""


class MemoryChatStore(ChatStore):
    def __init__(self) -> None:
        self._messages: dict[str, deque[dict[str, Any]]] = {}
        # Insertion-ordered: the oldest id is the first to go past REPLY_WINDOW.
        self._ids: dict[str, dict[str, None]] = {}
        self._muted: dict[str, set[str]] = {}

    async def append(self, session_id: str, message: dict[str, Any]) -> None:
        self._messages.setdefault(session_id, deque(maxlen=HISTORY_MAX)).append(message)
        ids = self._ids.setdefault(session_id, {})
        ids[str(message.get("message_id"))] = None
        if len(ids) > REPLY_WINDOW:
            del ids[next(iter(ids))]

    async def has_message(self, session_id: str, message_id: str) -> bool:
        return message_id in self._ids.get(session_id, {})

    async def recent(self, session_id: str) -> list[dict[str, Any]]:
        return list(self._messages.get(session_id, ()))

    async def set_muted(self, session_id: str, user_id: str, muted: bool) -> None:
        users = self._muted.setdefault(session_id, set())
        if muted:
            users.add(user_id)
        else:
            users.discard(user_id)

    async def muted(self, session_id: str) -> set[str]:
        return set(self._muted.get(session_id, ()))
