"""ContentService: streams generated lesson content to an audience.

One call to :meth:`ContentService.generate` is one generation: validate,
look up the cache, wait for a fair slot, stream provider deltas through the
:class:`~rtc_server.content.chunker.Chunker` and publish
``content.started`` / ``content.chunk`` / ``content.section`` /
``content.done`` (or ``content.stopped`` / ``content.failed``) once per
audience.  When the caller passes the session's material, the service
indexes it (once per material, :class:`MaterialIndexCache`), ranks its
passages for the request (:class:`Retriever`: BM25, or embeddings when
configured) and the events carry the grounding and the citations.  The streaming itself lives in
:class:`~rtc_server.content.generation.Generation`; the service owns
validation, caching, fairness, history and the providers (``close()``
closes them).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from rtc_server.ai.provider import ImageProvider, TextProvider
from rtc_server.material.grounding import Bm25Retriever, Grounding, Retriever
from rtc_server.material.index_cache import MaterialIndexCache
from rtc_server.material.material import Material

from . import events as ev
from .cache import CacheEntry, ContentCache, cache_key
from .chunker import DEFAULT_MAX_CHARS
from .destination import Destination, Publish
from .exceptions import GenerationNotFound, InvalidContentRequest
from .generation import Generation
from .prompts import (
    DEFAULT_CONTEXT_BUDGET_CHARS,
    TextContentRequest,
    brief_fields,
    build_text_request,
    retrieval_query,
)
from .requests import (
    DEFAULT_MAX_PROMPT_CHARS,
    AdaptRequest,
    LessonContext,
    PersonalizedRequest,
    ProfileGroup,
    SupplementRequest,
    VisualRequest,
    group_profiles,
    parse_content_request,
    parse_context,
)
from .scheduler import FairScheduler
from .stats import ContentStats, GenerationResult
from .visuals import VisualGenerator, VisualResult

__all__ = ["ContentRecord", "ContentService", "HistoryCallback", "PersonalizedResult"]

logger = logging.getLogger(__name__)

#: Passages ranked for a request (the context budget may quote fewer).
GROUNDING_TOP_K = 8


@dataclass(frozen=True, slots=True)
class ContentRecord:
    """A completed text, handed to the history callback."""

    generation_id: str
    kind: str
    audience: dict[str, Any]
    provider: str
    model: str | None
    text: str
    cached: bool
    request: dict[str, Any]
    sections: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generation_id": self.generation_id,
            "kind": self.kind,
            "audience": self.audience,
            "provider": self.provider,
            "model": self.model,
            "text": self.text,
            "cached": self.cached,
            "request": self.request,
            "sections": self.sections,
        }


HistoryCallback = Callable[[str, ContentRecord], Awaitable[None]]


@dataclass(slots=True)
class PersonalizedResult:
    groups: list[ProfileGroup]
    results: dict[str, GenerationResult]


class ContentService:
    def __init__(
        self,
        text_provider: TextProvider,
        image_provider: ImageProvider,
        cache: ContentCache,
        publish: Publish,
        *,
        max_concurrent: int = 8,
        max_per_session: int | None = None,
        chunk_max_delay_ms: float = 40.0,
        coalescing_ms: Callable[[Destination], float] | None = None,
        chunk_max_chars: int = DEFAULT_MAX_CHARS,
        max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS,
        cache_text: bool = True,
        history: HistoryCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        retriever: Retriever | None = None,
        context_budget_chars: int = DEFAULT_CONTEXT_BUDGET_CHARS,
        index_cache: MaterialIndexCache | None = None,
    ) -> None:
        self.text_provider = text_provider
        self.cache = cache
        self._publish = publish
        self.chunk_max_delay_ms = chunk_max_delay_ms
        #: The coalescing window for a destination (larger classes: fewer, larger chunks).
        self.coalescing_ms = coalescing_ms
        self.chunk_max_chars = chunk_max_chars
        self.max_prompt_chars = max_prompt_chars
        self.cache_text = cache_text
        self._history = history
        self._clock = clock
        self.retriever: Retriever = retriever or Bm25Retriever()
        self.context_budget_chars = context_budget_chars
        self.indexes = index_cache or MaterialIndexCache()
        self.scheduler = FairScheduler(max_concurrent, max_per_session=max_per_session)
        self.stats = ContentStats()
        self._runs: dict[str, Generation] = {}
        self._idle = asyncio.Event()
        self.visuals = VisualGenerator(
            image_provider, cache, publish, self.scheduler, self.stats, max_prompt_chars,
            ground=self._ground_query,
        )

    def _now_ms(self) -> float:
        return self._clock() * 1000.0

    # -- public API --------------------------------------------------------

    def running(self) -> list[str]:
        return list(self._runs)

    def in_progress(self, session_id: str) -> list[Generation]:
        """The session's generations streaming from this process now."""
        return [g for g in self._runs.values() if g.result.session_id == session_id]

    def cancel(self, generation_id: str, *, session_id: str | None = None) -> None:
        """Stops a queued or streaming generation; its upstream closes at once.

        With ``session_id``, only a generation of that session (a teacher stops only
        their own class's)."""
        generation = self._runs.get(generation_id)
        if generation is None or (session_id is not None
                                  and generation.result.session_id != session_id):
            raise GenerationNotFound(generation_id)
        generation.cancel()

    async def generate(
        self,
        session_id: str,
        request: Mapping[str, Any] | BaseModel,
        audience: Destination,
        *,
        context: Mapping[str, Any] | None = None,
        generation_id: str | None = None,
        material: Sequence[Material] = (),
    ) -> GenerationResult:
        """Stream one generation; ``generation_id`` lets the caller name it in advance.

        ``material`` is the session's material the class works from: all of
        it, published or not, in the order the teacher added them
        (:meth:`ClassMaterials.for_generation <.materials.ClassMaterials.for_generation>`).
        The text and the events name a material by the title it carries, so
        the caller leaves the title off material the audience may not see.
        """
        req = self.validate(request)
        return await self._generate(session_id, req, audience, context or {}, None,
                                    generation_id=generation_id, material=material)

    def validate(self, request: Mapping[str, Any] | BaseModel) -> TextContentRequest:
        """Check a text request against this server's limits without starting it."""
        req = parse_content_request(request, max_prompt_chars=self.max_prompt_chars)
        if isinstance(req, VisualRequest | PersonalizedRequest):
            method = "generate_visual" if req.kind == "visual" else "generate_personalized"
            raise InvalidContentRequest("kind", f"{req.kind!r} requests go to {method}()")
        return req

    async def generate_personalized(
        self,
        session_id: str,
        request: Mapping[str, Any] | BaseModel,
        *,
        context: Mapping[str, Any] | None = None,
        before_start: Callable[[list[ProfileGroup]], Awaitable[None]] | None = None,
        material: Sequence[Material] = (),
    ) -> PersonalizedResult:
        """One generation per (level, style) group, published to that group.

        ``before_start`` lets the core create the groups before any chunk is
        published to them.
        """
        req = parse_content_request(request, max_prompt_chars=self.max_prompt_chars)
        if not isinstance(req, PersonalizedRequest):
            raise InvalidContentRequest("kind", f"expected 'personalized', got {req.kind!r}")
        groups = group_profiles(req)
        if before_start is not None:
            await before_start(groups)
        tasks = [
            asyncio.create_task(
                self._generate(
                    session_id, req, Destination.group(session_id, g.name), context or {}, g,
                    material=material,
                )
            )
            for g in groups
        ]
        try:
            results = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return PersonalizedResult(groups, {g.name: r for g, r in zip(groups, results, strict=True)})

    async def generate_visual(
        self,
        session_id: str,
        request: Mapping[str, Any] | BaseModel,
        audience: Destination,
        *,
        context: Mapping[str, Any] | None = None,
        material: Sequence[Material] = (),
    ) -> VisualResult:
        return await self.visuals.generate(
            session_id, request, audience, context or {}, material=material
        )

    async def close(self, *, timeout_s: float = 5.0) -> None:
        """Stops every running generation and waits until each has published
        ``content.stopped``; then closes the providers (the service owns them).
        """
        for generation_id in list(self._runs):
            self.cancel(generation_id)
        if self._runs:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), timeout_s)
            except TimeoutError:
                logger.warning("ContentService: %d generations still running", len(self._runs))
        for provider in (self.text_provider, self.visuals.provider, self.retriever):
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                await aclose()

    # -- grounding ----------------------------------------------------------

    async def _ground_query(self, material: Sequence[Material], query: str) -> Grounding | None:
        if not material:
            return None
        index = await self.indexes.index(material)
        if not len(index):
            return None
        return await self.retriever.ground(index, query, GROUNDING_TOP_K)

    async def _ground(
        self, req: TextContentRequest, ctx: LessonContext, material: Sequence[Material]
    ) -> Grounding | None:
        if isinstance(req, AdaptRequest):
            return None  # an adaptation rewrites the text it carries
        return await self._ground_query(material, retrieval_query(req, ctx))

    # -- one generation ----------------------------------------------------

    async def _generate(
        self,
        session_id: str,
        req: TextContentRequest,
        audience: Destination,
        context: Mapping[str, Any],
        group: ProfileGroup | None,
        *,
        generation_id: str | None = None,
        material: Sequence[Material] = (),
    ) -> GenerationResult:
        ctx = parse_context(context)
        grounding = await self._ground(req, ctx, material)
        text_request = build_text_request(
            req, ctx, group=group, grounding=grounding, budget_chars=self.context_budget_chars
        )
        provider = self.text_provider
        fields = brief_fields(text_request.brief)
        key = cache_key(
            req.kind, {"brief": fields, "provider": provider.name, "model": provider.model}
        )
        result = GenerationResult(
            generation_id=generation_id or uuid.uuid4().hex,
            session_id=session_id,
            kind=req.kind,
            provider=provider.name,
            model=provider.model,
            outcome="done",
            text="",
        )
        generation = Generation(
            result,
            audience,
            self._publish,
            sections=text_request.brief.sections,
            chunk_max_delay_ms=self.chunk_max_delay_ms,
            chunk_min_interval_ms=self.coalescing_ms(audience) if self.coalescing_ms else 0.0,
            chunk_max_chars=self.chunk_max_chars,
            now_ms=self._now_ms,
            stats=self.stats,
            grounding=grounding,
        )
        self._runs[result.generation_id] = generation
        self.stats.generations_started += 1
        try:
            entry = await self.cache.get(key) if self.cache_text else None
            if self.cache_text:
                self.stats.cache_hits += entry is not None
                self.stats.cache_misses += entry is None
            started: dict[str, Any] = {
                "generation_id": result.generation_id,
                "kind": req.kind,
                "audience": audience.as_dict(),
                "provider": provider.name,
                "model": provider.model,
                "cached": entry is not None,
            }
            if isinstance(req, SupplementRequest):
                started["trigger"] = req.trigger
                started["affected_users"] = list(req.affected_users)
            if group is not None:
                started["group"] = group.as_dict()
            if text_request.brief.sections:
                started["plan"] = [s.as_dict() for s in text_request.brief.sections]
            if grounding is not None:
                started["grounding"] = grounding.event_fields()
            await self._publish(audience, ev.STARTED, started)
            if entry is not None:
                await generation.replay(entry)
            else:
                await generation.stream(provider.stream(text_request), self.scheduler, session_id)
        finally:
            del self._runs[result.generation_id]
            if not self._runs:
                self._idle.set()
        self.stats.record(result)
        if result.outcome == "done":
            if not result.cached and self.cache_text:
                meta = {"usage": result.usage.as_dict() if result.usage else None}
                await self.cache.put(key, CacheEntry(text=result.text, metadata=meta))
            await self._record_history(session_id, result, audience, fields)
        return result

    async def _record_history(
        self,
        session_id: str,
        result: GenerationResult,
        audience: Destination,
        fields: dict[str, Any],
    ) -> None:
        if self._history is None:
            return
        record = ContentRecord(
            generation_id=result.generation_id,
            kind=result.kind,
            audience=audience.as_dict(),
            provider=result.provider,
            model=result.model,
            text=result.text,
            cached=result.cached,
            request=fields,
            sections=result.sections,
        )
        try:
            await self._history(session_id, record)
        except Exception:
            # History is best effort: the students already have the text.
            logger.exception("ContentService(%s) history callback failed", result.generation_id)
