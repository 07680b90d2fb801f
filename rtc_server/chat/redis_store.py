"""The chat of a session in Redis (several server processes share it).

Keys (the ``{session}`` hash tag keeps them in one cluster slot), each expiring
``ttl_s`` after the last write::

    <prefix>chat:{<session>}:log     list: message payloads as JSON, newest last
    <prefix>chat:{<session>}:ids     sorted set: the last REPLY_WINDOW message ids (by seq)
    <prefix>chat:{<session>}:muted   set: muted user ids
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from rtc_server.base.protocol import dumps
from rtc_server.state.store import SESSION_TTL_S
from rtc_server.state.unavailable import redis_errors_as_unavailable

from .store import HISTORY_MAX, REPLY_WINDOW, ChatStore

__all__ = ["RedisChatStore"]


@redis_errors_as_unavailable
class RedisChatStore(ChatStore):
    def __init__(self, client: Redis, *, key_prefix: str = "crtc:",
                 ttl_s: int = SESSION_TTL_S) -> None:
        self._redis = client  # shared, owned by the Storage (decode_responses=True)
        self._prefix = key_prefix
        self._ttl_s = ttl_s

    def _key(self, session_id: str, part: str) -> str:
        return f"{self._prefix}chat:{{{session_id}}}:{part}"

    async def append(self, session_id: str, message: dict[str, Any]) -> None:
        key = self._key(session_id, "log")
        ids = self._key(session_id, "ids")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, dumps(message))
            pipe.ltrim(key, -HISTORY_MAX, -1)
            pipe.expire(key, self._ttl_s)
            pipe.zadd(ids, {str(message.get("message_id")): int(message.get("seq") or 0)})
            pipe.zremrangebyrank(ids, 0, -REPLY_WINDOW - 1)
            pipe.expire(ids, self._ttl_s)
            await pipe.execute()

    async def has_message(self, session_id: str, message_id: str) -> bool:
        return await self._redis.zscore(self._key(session_id, "ids"), message_id) is not None

    async def recent(self, session_id: str) -> list[dict[str, Any]]:
        raw = await self._redis.lrange(self._key(session_id, "log"), 0, -1)
        return [json.loads(item) for item in raw]

    async def set_muted(self, session_id: str, user_id: str, muted: bool) -> None:
        key = self._key(session_id, "muted")
        async with self._redis.pipeline(transaction=True) as pipe:
            if muted:
                pipe.sadd(key, user_id)
            else:
                pipe.srem(key, user_id)
            pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def muted(self, session_id: str) -> set[str]:
        members = await self._redis.smembers(self._key(session_id, "muted"))
        return {m if isinstance(m, str) else m.decode() for m in members}

    async def is_muted(self, session_id: str, user_id: str) -> bool:
        return bool(await self._redis.sismember(self._key(session_id, "muted"), user_id))
