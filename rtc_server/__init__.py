"""classroom-rtc server: peers, rooms, routing, media, AI content, state."""

from .bus import Backlog, EventBus
from .classroom import Classroom
from .config import Config, IceServer, load_config
from .connection import Connection
from .events import Audience, Event
from .exceptions import (
    ClassroomError,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    SessionEnded,
    SessionNotFound,
)
from .memory_bus import InProcessBus
from .memory_store import MemoryStore
from .store import Participant, SessionRecord, SessionStore

__all__ = [
    "Audience",
    "Backlog",
    "Classroom",
    "ClassroomError",
    "Config",
    "Connection",
    "Event",
    "EventBus",
    "IceServer",
    "InProcessBus",
    "InvalidRequest",
    "MemoryStore",
    "Participant",
    "PermissionDenied",
    "RateLimited",
    "SessionEnded",
    "SessionNotFound",
    "SessionRecord",
    "SessionStore",
    "load_config",
]
