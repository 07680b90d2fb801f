"""One text generation streaming to one audience.

A pump task reads the provider into a queue, stamping each delta's arrival;
the generation's own task drains the queue, coalesces and publishes.  The
split lets a coalescing deadline fire while the provider is silent, and lets
:meth:`Generation.cancel` close the upstream at once by cancelling the pump
(the provider's ``finally`` closes its HTTP stream).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from rtc_server.ai.provider import SectionSpec, TextDelta, Usage
from rtc_server.material.grounding import Grounding, cited_labels, section_citations, sources

from . import events as ev
from .cache import CacheEntry
from .chunker import Chunker, split_at_boundaries
from .destination import Destination, Publish
from .exceptions import GenerationFailed
from .planner import CompletedSection, SectionTracker
from .scheduler import FairScheduler
from .stats import ContentStats, GenerationResult

__all__ = ["Generation"]

logger = logging.getLogger(__name__)


_END = object()
_CANCELLED = object()


class _Stopped(Exception):
    """Internal: the generation was cancelled through :meth:`Generation.cancel`."""


class Generation:
    """Publishes ``content.chunk`` / ``content.section`` and the final event.

    ``content.started`` is published by the service before this runs.
    """

    def __init__(
        self,
        result: GenerationResult,
        audience: Destination,
        publish: Publish,
        *,
        sections: tuple[SectionSpec, ...],
        chunk_max_delay_ms: float,
        chunk_max_chars: int,
        chunk_min_interval_ms: float = 0.0,
        now_ms: Callable[[], float],
        stats: ContentStats,
        grounding: Grounding | None = None,
    ) -> None:
        self.result = result
        self.grounding = grounding
        self.audience = audience
        self._publish = publish
        self._tracker = SectionTracker(sections)
        self._chunker = Chunker(max_delay_ms=max(chunk_max_delay_ms, chunk_min_interval_ms),
                                max_chars=chunk_max_chars,
                                min_interval_ms=chunk_min_interval_ms)
        self._now_ms = now_ms
        self._stats = stats
        self.cancelled = False
        #: The chunks published so far (a late joiner's snapshot shows them).
        self.sent: list[str] = []
        self._pending: asyncio.Future[Any] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    @property
    def generation_id(self) -> str:
        return self.result.generation_id

    def progress(self) -> dict[str, Any]:
        """What the audience has been sent so far (for a snapshot)."""
        return {"generation_id": self.generation_id, "kind": self.result.kind,
                "audience": self.audience.as_dict(), "provider": self.result.provider,
                "text": "".join(self.sent), "sections": list(self.result.sections),
                "done": False}

    def cancel(self) -> None:
        """Cancels the slot wait or the provider pump; the latter closes the upstream."""
        self.cancelled = True
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        # Wakes the consumer even if the pump was cancelled before it ran.
        self._queue.put_nowait(_CANCELLED)

    async def replay(self, entry: CacheEntry) -> None:
        """Publishes a cached text as chunks at its natural boundaries."""
        result = self.result
        result.cached = True
        result.ttft_ms = 0.0
        usage = entry.metadata.get("usage")
        result.usage = Usage(**usage) if isinstance(usage, dict) else None
        started = self._now_ms()
        for piece in split_at_boundaries(entry.text, self._chunker.max_chars):
            await self._publish_chunk(piece)
        result.text = entry.text
        result.duration_ms = self._now_ms() - started
        await self._finish()

    async def stream(
        self, deltas: AsyncIterator[TextDelta], scheduler: FairScheduler, session_id: str
    ) -> None:
        result = self.result
        chunker = self._chunker
        received: list[str] = []
        published: list[str] = []
        # (end offset in the received text, arrival time) per token not yet delivered.
        arrivals: deque[tuple[int, float]] = deque()
        received_chars = 0
        published_chars = 0
        start_ms = self._now_ms()
        acquired = False

        async def emit(pieces: list[str]) -> None:
            nonlocal published_chars
            for piece in pieces:
                await self._publish_chunk(piece)
                published.append(piece)
                published_chars += len(piece)
                done_ms = self._now_ms()
                while arrivals and arrivals[0][0] <= published_chars:
                    result.overhead_ms.append(done_ms - arrivals.popleft()[1])

        try:
            self._stats.queued += 1
            try:
                self._pending = asyncio.ensure_future(scheduler.acquire(session_id))
                await self._pending
                acquired = True
            except asyncio.CancelledError:
                if not self.cancelled:
                    raise
                raise _Stopped from None
            finally:
                self._stats.queued -= 1
            self._stats.active += 1
            start_ms = self._now_ms()
            self._pump = asyncio.create_task(self._run_pump(deltas))
            self._pending = self._pump
            while True:
                item = await self._next(chunker, emit)
                if item is _CANCELLED or self.cancelled:
                    raise _Stopped
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, tuple)
                arrived_ms, delta = item
                if delta.usage is not None:
                    result.usage = delta.usage
                if not delta.text:
                    continue
                if result.ttft_ms is None:
                    result.ttft_ms = arrived_ms - start_ms
                result.tokens += 1
                received.append(delta.text)
                received_chars += len(delta.text)
                arrivals.append((received_chars, arrived_ms))
                await emit(chunker.push(delta.text, self._now_ms()))
            await emit(chunker.flush())
            result.text = "".join(received)
            result.duration_ms = self._now_ms() - start_ms
            await self._finish()
        except _Stopped:
            await self._end("".join(published), start_ms)
        except GenerationFailed as exc:
            await emit(chunker.flush())
            await self._end("".join(received), start_ms, exc)
        except asyncio.CancelledError:
            # The caller's task was cancelled (e.g. the session closed): close
            # the upstream before telling the students.
            await self._stop_pump()
            await self._end("".join(published), start_ms)
            raise
        except Exception as exc:
            logger.exception(
                "Generation(%s) provider %s crashed", self.generation_id, result.provider
            )
            failure = GenerationFailed(repr(exc), provider=result.provider, stage="stream")
            await self._end("".join(received), start_ms, failure)
        finally:
            await self._stop_pump()
            aclose = getattr(deltas, "aclose", None)
            if aclose is not None:
                await aclose()
            if acquired:
                self._stats.active -= 1
                scheduler.release(session_id)

    async def _run_pump(self, deltas: AsyncIterator[TextDelta]) -> None:
        """Reads the provider into the queue, stamping each delta's arrival."""
        try:
            async for delta in deltas:
                self._queue.put_nowait((self._now_ms(), delta))
            self._queue.put_nowait(_END)
        except Exception as exc:  # delivered to the consumer, which decides
            self._queue.put_nowait(exc)

    async def _next(self, chunker: Chunker, emit: Callable[[list[str]], Any]) -> object:
        """The next queued item, flushing due chunks while the provider is silent."""
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            deadline = chunker.deadline_ms()
            if deadline is None:
                return await self._queue.get()
            try:
                async with asyncio.timeout(max(0.0, deadline - self._now_ms()) / 1000):
                    return await self._queue.get()
            except TimeoutError:
                await emit(chunker.due(self._now_ms()))

    async def _stop_pump(self) -> None:
        pump = self._pump
        if pump is not None and not pump.done():
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def _publish_chunk(self, text: str) -> None:
        result = self.result
        payload = {"generation_id": self.generation_id, "index": result.chunks, "text": text}
        await self._publish(self.audience, ev.CHUNK, payload)
        self.sent.append(text)
        result.chunks += 1
        for section in self._tracker.feed(text):
            await self._publish_section(section)

    async def _publish_section(self, section: CompletedSection) -> None:
        payload = {
            "generation_id": self.generation_id,
            "index": section.index,
            "heading": section.heading,
            "content": section.content,
            **section.spec.as_dict(),
        }
        if self.grounding is not None:
            index = self.grounding.index
            payload["sources"] = [
                lb for lb in cited_labels(section.content) if index.passage(lb) is not None
            ]
        self.result.sections.append(payload)
        await self._publish(self.audience, ev.SECTION, payload)

    async def _finish(self) -> None:
        for section in self._tracker.finish():
            await self._publish_section(section)
        result = self.result
        payload: dict[str, Any] = {
            "generation_id": self.generation_id,
            "text": result.text,
            "usage": result.usage.as_dict() if result.usage else None,
            "ttft_ms": None if result.ttft_ms is None else round(result.ttft_ms, 3),
            "chunks": result.chunks,
            "tokens": result.tokens,
            "provider": result.provider,
            "model": result.model,
            "cached": result.cached,
        }
        if self.grounding is not None:
            index = self.grounding.index
            known, unknown = sources(result.text, index)
            payload["sources"] = known
            payload["citations"] = section_citations(result.text, index)
            if unknown:
                payload["unknown_sources"] = unknown
        await self._publish(self.audience, ev.DONE, payload)

    async def _end(self, text: str, start_ms: float, exc: GenerationFailed | None = None) -> None:
        """Publishes ``content.stopped`` (no ``exc``) or ``content.failed``."""
        result = self.result
        result.text = text
        result.duration_ms = self._now_ms() - start_ms
        payload: dict[str, Any] = {"generation_id": self.generation_id, "text": text}
        if exc is None:
            result.outcome = "stopped"
            await self._publish(self.audience, ev.STOPPED, payload)
            return
        result.outcome = "failed"
        result.error = exc.reason
        payload.update(error=exc.reason, stage=exc.stage, provider=exc.provider)
        await self._publish(self.audience, ev.FAILED, payload)
