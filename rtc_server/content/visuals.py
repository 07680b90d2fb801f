"""Visual generation: cache first, then the image provider, with fallbacks.

Publishes ``visual.started`` and then ``visual.done`` or ``visual.failed``
(with suggestions the teacher can use instead) to the audience.

A visual is about what its request describes: the subject is taken from the
description (:func:`visual_subject`), never from the session's current
topic, and when the session has material the labels are the key terms of
the passages that match the description.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from rtc_server.ai.provider import ImageProvider, ImageRequest, ImageResult
from rtc_server.material.grounding import Grounding
from rtc_server.material.material import Material
from rtc_server.material.tokens import tokenize

from . import events as ev
from .cache import CacheEntry, ContentCache, cache_key
from .destination import Destination, Publish
from .exceptions import GenerationFailed, InvalidContentRequest
from .local_composer import key_terms
from .requests import VisualRequest, parse_content_request, parse_context
from .scheduler import FairScheduler
from .stats import ContentStats

__all__ = ["GroundFn", "VisualGenerator", "VisualResult", "fallback_suggestions", "visual_subject"]

logger = logging.getLogger(__name__)

#: Ranks the session's material for a query (the service's retriever).
GroundFn = Callable[[Sequence[Material], str], Awaitable[Grounding | None]]
#: Words that say what kind of picture is wanted, not what it is of.
_PICTURE_WORDS = frozenset(
    "diagram diagrams picture image images drawing draw illustration illustrate chart map "
    "visual visualise visualize show showing shows poster sketch figure labelled labeled "
    "timeline flowchart flow process steps step order sequence stages stage happen happens "
    "happening explain explains describe compare "
    "그림 도표 도식 그려 그려줘 보여줘 다이어그램".split()
)
MAX_SUBJECT_WORDS = 6
LABELS = 6


def visual_subject(description: str) -> str:
    """The subject a description asks to draw: its first phrase of content words.

    "A labelled diagram of the water cycle, showing evaporation" → "water cycle";
    "evaporation and condensation" keeps its "and".
    """
    tokens = tokenize(description)
    words: list[str] = []
    pending: list[str] = []  # stop words kept only if a content word follows
    segment = -1
    for token in tokens:
        picture = token.term in _PICTURE_WORDS or token.surface.lower() in _PICTURE_WORDS
        if words and (token.segment != segment or picture):
            break
        if not token.content or picture:
            if words and token.stop:
                pending.append(token.surface.lower())
            continue
        name = token.surface[:1].isupper() and not token.initial  # "French Revolution"
        word = token.surface if token.hangul or name else token.surface.lower()
        if token.josa == "의":
            word += "의"  # "물의 순환": the genitive keeps the phrase going
        words += [*pending, word]
        pending = []
        segment = token.segment
        if len(words) >= MAX_SUBJECT_WORDS or token.josa not in ("", "의"):
            break
    return " ".join(words) or description.strip()[:40]


def _labels(subject: str, description: str, grounding: Grounding | None) -> tuple[str, ...]:
    """Labels around the subject: the matching passages' key terms, else the request's words."""
    own = {t.term for t in tokenize(subject)}
    if grounding is not None and grounding.matched:
        index = grounding.index
        hits = grounding.hits[:3]
        scope = [h.index for h in hits]
        terms = [t for t in index.terms_in(scope, 4 * LABELS) if not set(t.words) <= own]
        # The terms the best-matching passages use most (weighted by how well each
        # passage matches), not the material's overall favourites.
        uses = {
            t.key: sum(h.score * len(index.occurrences(t, [h.index])) for h in hits)
            for t in terms
        }
        terms.sort(key=lambda t: -uses[t.key])  # stable: ties keep the material's ranking
        labels = [t.label for t in terms]
    else:
        labels = [w for w in key_terms(description, limit=3 * LABELS)
                  if not {t.term for t in tokenize(w)} <= own]
    return tuple(labels[:LABELS])


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
    """What the teacher can do instead; ``topic`` is the visual's subject."""
    terms = key_terms(description, limit=4)
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
        *,
        ground: GroundFn | None = None,
    ) -> None:
        self.provider = provider
        self._ground = ground
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
        *,
        material: Sequence[Material] = (),
    ) -> VisualResult:
        raw = request.model_dump() if isinstance(request, BaseModel) else dict(request)
        raw.setdefault("kind", "visual")
        req = parse_content_request(raw, max_prompt_chars=self._max_prompt_chars)
        if not isinstance(req, VisualRequest):
            raise InvalidContentRequest("kind", f"expected 'visual', got {req.kind!r}")
        parse_context(context)  # validated for its errors; a visual's subject is its own
        grounding = None
        if material and self._ground is not None:
            grounding = await self._ground(material, req.description)
        subject = visual_subject(req.description)
        image_request = ImageRequest(
            description=req.description,
            style=req.style,
            topic=subject,
            key_terms=_labels(subject, req.description, grounding),
            grounding=grounding if grounding is not None and grounding.matched else None,
        )
        key = cache_key(
            "visual",
            {
                "description": req.description,
                "style": req.style,
                "provider": self.provider.name,
                "grounding": None if grounding is None else grounding.cache_fields(),
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
                return await self._failed(audience, result, req, subject, exc.reason)
            except Exception as exc:
                logger.exception(
                    "VisualGenerator(%s) provider %s crashed", visual_id, self.provider.name
                )
                return await self._failed(audience, result, req, subject, repr(exc))
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
