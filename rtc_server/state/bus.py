"""The event bus: sequencing, logging and fan-out of stream events, behind one interface.

``publish`` is the only way an event enters a session's stream. In one step
it assigns the next per-session ``seq`` (exactly once), serialises the
envelope (once), appends it to the session's bounded log, and hands it to
every subscribed process in ``seq`` order. Rooms subscribe per session and
deliver to their local connections; nothing assumes that all the members of
a session are in this process.

Implementations: :class:`~rtc_server.state.memory_bus.InProcessBus` (embedded
default) and :class:`~rtc_server.state.redis_bus.RedisBus` (several processes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtc_server.base.protocol import Audience, Event

EventHandler = Callable[[Event], None]
Unsubscribe = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Events after a given seq; ``complete`` is False when the log no longer reaches back."""

    events: list[Event]
    complete: bool
    last_seq: int


class EventBus(ABC):
    #: False while the backing service is unreachable (always True in memory).
    healthy: bool = True

    @abstractmethod
    async def publish(
        self, session_id: str, audience: Audience, type: str, payload: dict[str, Any]
    ) -> Event:
        """Sequence, serialise, log and fan out one event; return it."""

    @abstractmethod
    async def subscribe(self, session_id: str, handler: EventHandler) -> Unsubscribe:
        """Call ``handler`` for every event of the session, in seq order, from now on."""

    @abstractmethod
    async def read_after(self, session_id: str, after_seq: int, limit: int) -> Backlog:
        """Logged events with ``seq > after_seq`` (at most ``limit``), oldest first."""

    @abstractmethod
    async def last_seq(self, session_id: str) -> int:
        """The highest seq assigned in the session (0 before the first event)."""

    async def mark_reset(self, session_id: str) -> None:  # noqa: B027 - optional hook
        """The shared state lost this session (a Redis restart without persistence): make
        its counter continue after the highest seq known here, and resumes from before
        that get a snapshot. Nothing to do for a bus that cannot lose its state."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to the backing service, if any."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop background work and release connections."""
