"""The state this process uses, chosen once: in memory, or Redis; the one owner of the
Redis connections.

Embedded default (no Redis URL): an :class:`~.memory_bus.InProcessBus` and a
:class:`~.memory_store.MemoryStore`; one process holds the class. With a Redis
URL: the Redis bus and store, and one shared client over one
``BlockingConnectionPool`` — a caller that finds every connection busy waits
(up to ``redis_pool_timeout_s``) instead of failing, which is what a burst of
joins or leaves needs. The media relay's encoded frames are bytes, so it gets
a second, bytes client (:attr:`Storage.redis_bytes`) on a pool of its own,
built and closed here too (see there why it cannot share the first).

Features that keep state of their own ask :meth:`Storage.choose` for it, so
the memory-or-Redis decision is made here and nowhere else::

    store = core.storage.choose(memory=MemoryInteractionStore,
                                redis=lambda client, prefix: RedisInteractionStore(
                                    client, key_prefix=prefix))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from rtc_server.config import Config

from .bus import EventBus
from .memory_bus import InProcessBus
from .memory_store import MemoryStore
from .redis_bus import RedisBus
from .redis_store import RedisStore
from .store import SessionStore

__all__ = ["Storage"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The bytes pool's size and wait: the relay's pub/sub reader holds one connection for
#: good, frame publishes and demand refreshes share the rest.
BYTES_POOL_CONNECTIONS = 32
BYTES_POOL_TIMEOUT_S = 5.0


class Storage:
    """The bus, the session store and (with Redis) the clients they and the features share."""

    def __init__(self, config: Config) -> None:
        #: The shared client (text replies): bus, session store, features' stores.
        self.redis: Redis | None = None
        #: The bytes client (binary replies: the media relay), on its own pool.
        self.redis_bytes: Redis | None = None
        self.key_prefix = config.redis_key_prefix
        if config.redis_url:
            pool = BlockingConnectionPool.from_url(
                config.redis_url, decode_responses=True,
                max_connections=config.redis_max_connections,
                timeout=config.redis_pool_timeout_s,
            )
            self.redis = Redis(connection_pool=pool)
            # A second pool, not a second client on the first: redis-py decodes replies per
            # connection (``decode_responses`` is the pool's; a client on the pool cannot
            # turn it off), and the relay's frames are not text. Its own size also keeps a
            # video burst from taking the connections events wait for.
            self.redis_bytes = Redis(connection_pool=BlockingConnectionPool.from_url(
                config.redis_url, decode_responses=False,
                max_connections=BYTES_POOL_CONNECTIONS, timeout=BYTES_POOL_TIMEOUT_S))
            self.bus: EventBus = RedisBus(self.redis, max_events=config.event_log_max,
                                          key_prefix=self.key_prefix)
            self.store: SessionStore = RedisStore(self.redis, key_prefix=self.key_prefix)
        else:
            self.bus = InProcessBus(max_events=config.event_log_max)
            self.store = MemoryStore()

    @property
    def backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    @property
    def healthy(self) -> bool:
        """False while Redis is unreachable (the in-memory state always is)."""
        return not isinstance(self.bus, RedisBus) or self.bus.healthy

    def on_reset(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call ``callback`` when Redis came back without its data."""
        if isinstance(self.bus, RedisBus):
            self.bus.on_reset.append(callback)

    def on_health(self, callback: Callable[[bool], Awaitable[None]]) -> None:
        """Call ``callback(healthy)`` when Redis goes away and comes back."""
        if isinstance(self.bus, RedisBus):
            self.bus.on_health.append(callback)

    async def check(self, timeout_s: float = 1.0) -> bool:
        """Ask Redis now (for /healthz); True without Redis."""
        if self.redis is None:
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self.redis.ping()
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    def choose(self, *, memory: Callable[[], T], redis: Callable[[Redis, str], T]) -> T:
        """A feature's own store: ``redis(client, key_prefix)`` with Redis, else ``memory()``."""
        if self.redis is not None:
            return redis(self.redis, self.key_prefix)
        return memory()

    async def start(self) -> None:
        await self.bus.start()
        logger.info("state in %s", self.backend)

    async def close(self) -> None:
        await self.bus.close()
        await self.store.close()
        for client in (self.redis, self.redis_bytes):
            if client is not None:
                await client.aclose()
                await client.connection_pool.disconnect()
