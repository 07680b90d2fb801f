"""Shared state: the event bus and the session store, in memory or in Redis.

:class:`Storage` picks the implementations once from the config; callers see
only :class:`~.bus.EventBus` and :class:`~.store.SessionStore`.
"""

from .bus import Backlog, EventBus, EventHandler, Unsubscribe
from .memory_bus import InProcessBus
from .memory_store import MemoryStore
from .redis_bus import RedisBus
from .redis_store import RedisStore
from .storage import Storage
from .store import Participant, SessionRecord, SessionStatus, SessionStore

__all__ = [
    "Backlog",
    "EventBus",
    "EventHandler",
    "InProcessBus",
    "MemoryStore",
    "Participant",
    "RedisBus",
    "RedisStore",
    "SessionRecord",
    "SessionStatus",
    "SessionStore",
    "Storage",
    "Unsubscribe",
]
