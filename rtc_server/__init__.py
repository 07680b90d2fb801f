"""classroom-rtc server: peers, rooms, routing, media, AI content, state.

Layers, each importing only those below it (``docs/architecture.md``)::

    chat | content | interactions | media     features (one folder, one contract)
    core                                      classroom, rooms, connections, dispatcher
    state | ai                                bus + stores; model access
    material                                  the teacher's material: extraction, ranking
    base | patches                            vocabulary; aiortc/aioice workarounds
    config                                    the one configuration object

The public surface below is the core's; features are reached as subpackages.
"""

from .base.exceptions import (
    ClassroomError,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    SessionEnded,
    SessionNotFound,
)
from .base.identity import Identity
from .base.protocol import Audience, Event, EventType
from .config import Config, IceServer, load_config

__all__ = [
    "Audience",
    "ClassroomError",
    "Config",
    "Event",
    "EventType",
    "IceServer",
    "Identity",
    "InvalidRequest",
    "PermissionDenied",
    "RateLimited",
    "SessionEnded",
    "SessionNotFound",
    "load_config",
]
