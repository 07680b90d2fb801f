"""What each server process holds, in Redis: WHIP/WHEP resources, and viewers per session.

Part of the media relay (:class:`~.relay.MediaRelay` owns one). With several workers or
machines, a WHIP/WHEP ``DELETE`` may reach a process that does not hold the resource
(``SO_REUSEPORT`` picks a worker per connection): the holder is recorded here, and the
request is forwarded on the holder's node channel. Each process also reports, every
second, how many viewers it serves per session and whether it holds a publisher, for
the teacher's page and ``GET /api/sessions/{id}/media``. Key names: :mod:`.relay_wire`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from redis.asyncio import Redis

from rtc_server.base.background import BackgroundTasks

from .relay_wire import RelayKeys, now_ms, text

__all__ = ["RelayDirectory", "ServedSession"]

#: A process's report expires this long after its last refresh (it died).
REPORT_TTL_MS = 10_000


class ServedSession(Protocol):
    """What is reported of a session's media here (:class:`~.hub.SessionMedia`)."""

    @property
    def viewers(self) -> Mapping[str, Any]: ...

    @property
    def sources(self) -> list[Any]: ...


class RelayDirectory:
    """Resource holders and per-process viewer counts (implements
    ``peer_resources.ResourceOwners``)."""

    def __init__(self, redis: Redis, keys: RelayKeys, node: str, tasks: BackgroundTasks) -> None:
        self._redis, self._keys, self.node, self._tasks = redis, keys, node, tasks
        self._serving: set[str] = set()  # sessions this process reported viewers/sources in
        self.closed = False
        #: Ends a WHIP/WHEP resource here (kind, session, id): set by the media feature.
        self.on_delete: Callable[[str, str, str], Coroutine[Any, Any, None]] | None = None

    # -- WHIP/WHEP resources -------------------------------------------------------------------

    def claim(self, kind: str, session_id: str, resource_id: str) -> None:
        if not self.closed:
            self._tasks.spawn(self._claim(kind, session_id, resource_id), "claim")

    async def _claim(self, kind: str, session_id: str, resource_id: str) -> None:
        await self._redis.set(self._keys.resource(kind, session_id, resource_id), self.node,
                              ex=24 * 3600)

    def release(self, kind: str, session_id: str, resource_id: str) -> None:
        if not self.closed:
            self._tasks.spawn(self._release(kind, session_id, resource_id), "release")

    async def _release(self, kind: str, session_id: str, resource_id: str) -> None:
        await self._redis.delete(self._keys.resource(kind, session_id, resource_id))

    async def forward_delete(self, kind: str, session_id: str, resource_id: str) -> bool:
        """Ask the process holding the resource to end it; False if none does (404 here)."""
        owner = await self._redis.get(self._keys.resource(kind, session_id, resource_id))
        if owner is None or text(owner) == self.node:
            return False
        await self._redis.publish(self._keys.node_channel(text(owner)),
                                  f"delete|{kind}|{session_id}|{resource_id}".encode())
        return True  # held elsewhere (or by a process that died: gone with it)

    def on_node_message(self, data: bytes) -> None:
        """A message on this process's node channel."""
        parts = data.decode().split("|")
        if len(parts) == 4 and parts[0] == "delete" and self.on_delete is not None:
            self._tasks.spawn(self.on_delete(parts[1], parts[2], parts[3]), "forwarded delete")

    # -- who serves whom -----------------------------------------------------------------------

    async def report(self, session_id: str, media: ServedSession, *,
                     always: bool = False) -> None:
        """Refresh this process's entry for the session (or drop it once nobody is here)."""
        key = self._keys.nodes(session_id)
        if not (media.viewers or media.sources or always):
            if session_id in self._serving:
                self._serving.discard(session_id)
                await self._redis.hdel(key, self.node)
            return
        self._serving.add(session_id)
        body = json.dumps({"viewers": len(media.viewers), "publisher": bool(media.sources),
                           "until": now_ms() + REPORT_TTL_MS})
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.node, body)
            pipe.pexpire(key, 6 * REPORT_TTL_MS)
            await pipe.execute()

    async def withdraw(self) -> None:
        """Closing: this process serves nothing any more."""
        for session_id in self._serving:
            await self._redis.hdel(self._keys.nodes(session_id), self.node)
        self._serving.clear()

    async def nodes(self, session_id: str) -> dict[str, dict[str, Any]]:
        """What each live process serves in the session: node -> {viewers, publisher}."""
        entries = await self._redis.hgetall(self._keys.nodes(session_id))
        now = now_ms()
        found = {}
        for raw_node, raw in entries.items():
            body = json.loads(raw)
            if body["until"] >= now:
                found[text(raw_node)] = {"viewers": body["viewers"],
                                         "publisher": body["publisher"]}
        return found
