"""Visual generation: cache first, then the image provider, with fallbacks.

Publishes ``visual.started`` and then ``visual.done`` or ``visual.failed``
(with suggestions the teacher can use instead) to the audience.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from rtc_server.ai.provider import ImageProvider, ImageRequest, ImageResult

from . import events as ev
from .cache import CacheEntry, ContentCache, cache_key
from .destination import Destination, Publish
from .exceptions import GenerationFailed, InvalidContentRequest
from .local_composer import key_terms
from .requests import VisualRequest, parse_content_request, parse_context
from .scheduler import FairScheduler
from .stats import ContentStats

__all__ = ["VisualGenerator", "VisualResult", "fallback_suggestions"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class VisualResult:
    visual_id: str
    outcome: str  # "done" | "failed"
    provider: str
    cached: bool = False
    mime: str | None = None
    url: str | None = None
    data: str | None = None
    error: str | None = None
    fallback_suggestions: list[str] = field(default_factory=list)


def fallback_suggestions(description: str, topic: str) -> list[str]:
    terms = key_terms(topic, description, limit=4)
    subject = topic or description
    return [
        f"Sketch a labelled diagram of {subject} on the whiteboard"
        + (f" with: {', '.join(terms)}." if terms else "."),
        "Show the locally drawn concept diagram (local-composer) instead.",
        f"Describe the picture in words and ask students to draw it: {description}",
    ]


def _to_entry(image: ImageResult) -> CacheEntry:
    data: bytes | None = None
    if image.data is not None:
        header, _, payload = image.data.partition(",")
        data = base64.b64decode(payload) if header.endswith(";base64") else payload.encode()
    return CacheEntry(
        data=data,
        metadata={"mime": image.mime, "url": image.url, "alt": image.alt},
    )


def _from_entry(entry: CacheEntry) -> tuple[str, str | None, str | None]:
    mime = str(entry.metadata.get("mime") or "application/octet-stream")
    data = None
    if entry.data is not None:
        data = f"data:{mime};base64,{base64.b64encode(entry.data).decode()}"
    url = entry.metadata.get("url")
    return mime, url if isinstance(url, str) else None, data


class VisualGenerator:
    def __init__(
        self,
        provider: ImageProvider,
        cache: ContentCache,
        publish: Publish,
        scheduler: FairScheduler,
        stats: ContentStats,
        max_prompt_chars: int,
    ) -> None:
        self.provider = provider
        self._cache = cache
        self._publish = publish
        self._scheduler = scheduler
        self._stats = stats
        self._max_prompt_chars = max_prompt_chars

    async def generate(
        self,
        session_id: str,
        request: Mapping[str, Any] | BaseModel,
        audience: Destination,
        context: Mapping[str, Any],
    ) -> VisualResult:
        raw = request.model_dump() if isinstance(request, BaseModel) else dict(request)
        raw.setdefault("kind", "visual")
        req = parse_content_request(raw, max_prompt_chars=self._max_prompt_chars)
        if not isinstance(req, VisualRequest):
            raise InvalidContentRequest("kind", f"expected 'visual', got {req.kind!r}")
        ctx = parse_context(context)
        image_request = ImageRequest(
            description=req.description,
            style=req.style,
            topic=ctx.current_topic,
            key_terms=tuple(key_terms(req.description, limit=6)),
        )
        key = cache_key(
            "visual",
            {
                "description": req.description,
                "style": req.style,
                "topic": ctx.current_topic,
                "provider": self.provider.name,
            },
        )
        visual_id = uuid.uuid4().hex
        result = VisualResult(visual_id=visual_id, outcome="done", provider=self.provider.name)
        await self._publish(
            audience,
            ev.VISUAL_STARTED,
            {
                "visual_id": visual_id,
                "description": req.description,
                "style": req.style,
                "provider": self.provider.name,
            },
        )
        entry = await self._cache.get(key)
        if entry is not None:
            self._stats.visual_cache_hits += 1
            result.cached = True
            result.mime, result.url, result.data = _from_entry(entry)
        else:
            try:
                async with self._scheduler.slot(session_id):
                    image = await self.provider.generate(image_request)
            except GenerationFailed as exc:
                return await self._failed(audience, result, req, ctx.current_topic, exc.reason)
            except Exception as exc:
                logger.exception(
                    "VisualGenerator(%s) provider %s crashed", visual_id, self.provider.name
                )
                return await self._failed(audience, result, req, ctx.current_topic, repr(exc))
            result.mime, result.url, result.data = image.mime, image.url, image.data
            await self._cache.put(key, _to_entry(image))
        self._stats.visuals_done += 1
        await self._publish(
            audience,
            ev.VISUAL_DONE,
            {
                "visual_id": visual_id,
                "url": result.url,
                "data": result.data,
                "mime": result.mime,
                "alt": req.description,
                "provider": self.provider.name,
                "cached": result.cached,
            },
        )
        return result

    async def _failed(
        self, audience: Destination, result: VisualResult, req: VisualRequest, topic: str,
        error: str,
    ) -> VisualResult:
        self._stats.visuals_failed += 1
        result.outcome = "failed"
        result.error = error
        result.fallback_suggestions = fallback_suggestions(req.description, topic)
        await self._publish(
            audience,
            ev.VISUAL_FAILED,
            {
                "visual_id": result.visual_id,
                "error": error,
                "provider": self.provider.name,
                "fallback_suggestions": result.fallback_suggestions,
            },
        )
        return result
