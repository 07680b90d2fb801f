"""The board of each session as this process knows it: a cache over the store's op log.

The store is the truth (ops with their board seq); :class:`SharedBoard` keeps
the folded :class:`~.board.BoardState` per session and catches up by reading
only ops after the seq it has. A per-session lock makes check, append and
publish one step inside this process, so live ``board.op`` events leave it
in board seq order. Ops appended by other processes reach the cache on the
next op or sync here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .board import BoardState, apply, check_applicable
from .store import BOARD_MAX_OPS, BoardEntry, InteractionStore

__all__ = ["SharedBoard"]

Publish = Callable[[str, BoardEntry], Awaitable[None]]


@dataclass
class _Cached:
    state: BoardState = field(default_factory=BoardState)
    # (user, client message id) -> entry: answers a resent op without storing it again.
    sent: dict[tuple[str, str], BoardEntry] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SharedBoard:
    def __init__(self, store: InteractionStore, *, max_ops: int = BOARD_MAX_OPS) -> None:
        self.store = store
        self.max_ops = max_ops
        self._boards: dict[str, _Cached] = {}

    def _cached(self, session_id: str) -> _Cached:
        return self._boards.setdefault(session_id, _Cached())

    async def _catch_up(self, session_id: str, cached: _Cached) -> None:
        for entry in await self.store.board_ops(session_id, cached.state.seq):
            apply(cached.state, entry.seq, entry.op)
            cached.sent[(entry.by, entry.client_id)] = entry

    async def submit(
        self, session_id: str, *, by: str, client_id: str, op: dict[str, Any], now_ms: int,
        publish: Publish,
    ) -> tuple[BoardEntry, bool]:
        """Check ``op`` against the board, store it and publish it: ``(entry, fresh)``.

        A resend of the same ``(by, client_id)`` returns the first entry with
        ``fresh=False`` and publishes nothing.
        """
        cached = self._cached(session_id)
        async with cached.lock:
            await self._catch_up(session_id, cached)
            seen = cached.sent.get((by, client_id))
            if seen is not None:
                return seen, False
            check_applicable(cached.state, op)
            entry, fresh = await self.store.append_board_op(
                session_id, by=by, client_id=client_id, op=op, now_ms=now_ms,
                max_ops=self.max_ops)
            if fresh:
                # Another process may have appended ops just before ours: fold them first.
                await self._catch_up(session_id, cached)
                await publish(session_id, entry)
            return entry, fresh

    async def snapshot(self, session_id: str) -> dict[str, Any]:
        """``{"seq", "items"}``: the board after every op up to ``seq``."""
        cached = self._cached(session_id)
        async with cached.lock:
            await self._catch_up(session_id, cached)
            return cached.state.to_json()

    def forget(self, session_id: str) -> None:
        self._boards.pop(session_id, None)

    def clear(self) -> None:
        self._boards.clear()
