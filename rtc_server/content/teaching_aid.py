"""The content feature's :class:`~rtc_server.core.teaching_aid.TeachingAid`: hints and
answer judgements grounded in the class's material.

With a model: the prompts of :mod:`.prompts` (``build_hints_request``,
``build_evaluation_request``) quote the passages the retriever ranks highest for
the question and ask for citations. Without one: hints quote the passage that holds
the answer (:func:`~.grounded_composer.material_hints`); judging free text is left
to the interactions feature's own evaluator. No material: None, and the caller uses
its own way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from rtc_server.ai.provider import TextProvider, TextRequest
from rtc_server.core.teaching_aid import Verdict

from .grounded_composer import material_hints
from .local_provider import LOCAL_PROVIDER_NAME
from .materials import ClassMaterials
from .prompts import build_evaluation_request, build_hints_request
from .service import ContentService

__all__ = ["MaterialTeachingAid"]

logger = logging.getLogger(__name__)
#: Passages quoted to the model for one question.
TOP_K = 4
TIMEOUT_S = 20.0
#: The session's language (for the framing of hints), e.g. "ko".
LanguageLookup = Callable[[str], Awaitable[str]]


class MaterialTeachingAid:
    def __init__(self, service: ContentService, materials: ClassMaterials,
                 language_of: LanguageLookup) -> None:
        self._service = service
        self._materials = materials
        self._language_of = language_of

    @property
    def _model(self) -> TextProvider | None:
        provider = self._service.text_provider
        return None if provider.name == LOCAL_PROVIDER_NAME else provider

    async def hints(self, session_id: str, question: str, choices: Sequence[str],
                    answer: str) -> list[str] | None:
        material = await self._materials.for_generation(session_id)
        if not material:
            return None
        language = await self._language_of(session_id)
        index = await self._service.indexes.index(material)
        model = self._model
        if model is None:
            return material_hints(index, question, answer, language) or None
        grounding = await self._service.retriever.ground(index, f"{question} {answer}", TOP_K)
        request = build_hints_request(question, choices, answer, grounding=grounding,
                                      language=language)
        try:
            text = await _complete(model, request)
            start, end = text.find("["), text.rfind("]")
            hints = json.loads(text[start:end + 1]) if 0 <= start < end else []
        except (ValueError, TimeoutError, OSError) as exc:
            logger.warning("grounded hints failed (%s); using the material's own", exc)
            hints = []
        clean = [str(h).strip() for h in hints if str(h).strip()]
        return clean or material_hints(index, question, answer, language) or None

    async def evaluate(self, session_id: str, question: str, reference: str,
                       answer: str) -> Verdict | None:
        model = self._model
        material = await self._materials.for_generation(session_id)
        if model is None or not material:
            return None
        index = await self._service.indexes.index(material)
        grounding = await self._service.retriever.ground(index, f"{question} {reference}",
                                                         TOP_K)
        request = build_evaluation_request(question, reference, answer, grounding=grounding,
                                           language=await self._language_of(session_id))
        try:
            text = await _complete(model, request)
            start, end = text.find("{"), text.rfind("}")
            data = json.loads(text[start:end + 1])
            correct = data["correct"]
            if not isinstance(correct, bool):
                raise ValueError("no boolean 'correct'")
            score = float(data.get("score", 1.0 if correct else 0.0))
        except (ValueError, KeyError, TypeError, TimeoutError, OSError) as exc:
            logger.warning("grounded evaluation failed (%s); the caller judges", exc)
            return None
        return Verdict(correct=correct, score=round(min(max(score, 0.0), 1.0), 3),
                       feedback=str(data.get("feedback") or "")[:1000],
                       evaluator=f"ai:{model.name}+material")


async def _complete(model: TextProvider, request: TextRequest) -> str:
    parts: list[str] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for delta in model.stream(request):
            parts.append(delta.text)
    return "".join(parts)


