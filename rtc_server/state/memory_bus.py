"""In-process event bus: the embedded default when no Redis is configured."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from rtc_server.base.protocol import Audience, Event, dumps, envelope_parts, now_ms

from .bus import Backlog, EventBus, EventHandler, Unsubscribe

logger = logging.getLogger(__name__)


class _SessionStream:
    __slots__ = ("handlers", "log", "seq")

    def __init__(self, max_events: int) -> None:
        self.seq = 0
        self.log: deque[Event] = deque(maxlen=max_events)
        self.handlers: list[EventHandler] = []


class InProcessBus(EventBus):
    """Sequencing and fan-out inside one process, with a bounded log per session."""

    def __init__(self, *, max_events: int = 10_000) -> None:
        self._max_events = max_events
        self._streams: dict[str, _SessionStream] = {}

    def _stream(self, session_id: str) -> _SessionStream:
        stream = self._streams.get(session_id)
        if stream is None:
            stream = self._streams[session_id] = _SessionStream(self._max_events)
        return stream

    async def publish(
        self, session_id: str, audience: Audience, type: str, payload: dict[str, Any]
    ) -> Event:
        # Encoded first: an event that cannot be sent (InvalidRequest) takes no seq.
        payload_json = dumps(payload)
        stream = self._stream(session_id)
        # No await between taking the number and delivering: seq order is delivery order.
        stream.seq += 1
        ts = now_ms()
        head, tail = envelope_parts(session_id=session_id, ts_ms=ts, type=type,
                                    audience=audience, payload_json=payload_json)
        wire = f"{head}{stream.seq}{tail}"
        event = Event(session_id, stream.seq, ts, type, audience, wire)
        stream.log.append(event)
        for handler in tuple(stream.handlers):
            try:
                handler(event)
            except Exception:
                logger.exception(
                    "InProcessBus(%s) handler failed for seq %d", session_id, event.seq
                )
        return event

    async def subscribe(self, session_id: str, handler: EventHandler) -> Unsubscribe:
        stream = self._stream(session_id)
        stream.handlers.append(handler)

        def unsubscribe() -> None:
            if handler in stream.handlers:
                stream.handlers.remove(handler)

        return unsubscribe

    async def read_after(self, session_id: str, after_seq: int, limit: int) -> Backlog:
        stream = self._stream(session_id)
        log = stream.log
        oldest = log[0].seq if log else stream.seq + 1
        complete = after_seq + 1 >= oldest or after_seq >= stream.seq
        # seqs in the log are contiguous, so the start index is arithmetic.
        start = max(0, after_seq + 1 - oldest)
        events = [log[i] for i in range(start, min(len(log), start + limit))]
        return Backlog(events=events, complete=complete, last_seq=stream.seq)

    async def last_seq(self, session_id: str) -> int:
        return self._stream(session_id).seq

    def forget(self, session_id: str) -> None:
        """Drop a session's log (after it ended and expired)."""
        self._streams.pop(session_id, None)
