"""Evaluating answers: exact match for choices, keyword overlap or an AI model for free text.

:class:`Evaluator` is the interface the service uses. :class:`LocalEvaluator`
needs nothing: exact match for choice questions, and for free text the share
of the reference answer's keywords that the answer contains.
:class:`TextProviderEvaluator` asks a :class:`~rtc_server.content.TextProvider`
(e.g. the OpenAI one) for a JSON verdict on free text and falls back to the
local evaluator when the model fails, is slow or answers in the wrong shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Protocol, runtime_checkable

from rtc_server.ai.prompts import build_evaluation_request
from rtc_server.ai.provider import TextProvider

from .questions import Answer, Evaluation, Question, evaluate_choice

__all__ = ["Evaluator", "LocalEvaluator", "TextProviderEvaluator", "keywords"]

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOPWORDS = frozenset(
    "the and for are but not you all any can had her was one our out has his how its may new "
    "now old see two way who did get let put say she too use that with have this will your "
    "from they been were what when which their there than then them these those into only "
    "also some such very just about because".split()
)


def keywords(text: str) -> set[str]:
    """Lower-case words of three or more letters, without common stop words."""
    return {w.lower() for w in _WORD.findall(text)} - _STOPWORDS


@runtime_checkable
class Evaluator(Protocol):
    @property
    def name(self) -> str: ...

    async def evaluate(self, question: Question, answer: Answer, *, now_ms: int) -> Evaluation:
        ...


class LocalEvaluator:
    """Exact match for choices; keyword overlap with the reference answer for free text."""

    def __init__(self, *, pass_share: float = 0.6) -> None:
        if not 0 < pass_share <= 1:
            raise ValueError("pass_share must be in (0, 1]")
        self.pass_share = pass_share

    @property
    def name(self) -> str:
        return "keyword-overlap"

    async def evaluate(self, question: Question, answer: Answer, *, now_ms: int) -> Evaluation:
        if question.kind == "choice":
            return evaluate_choice(question, answer, now_ms=now_ms)
        reference = keywords(str(question.correct or ""))
        given = keywords(answer.text or "")
        if not reference:
            return Evaluation(
                answer_id=answer.id, question_id=question.id, user_id=answer.user_id,
                correct=None, score=0.0, evaluator=self.name, evaluated_at_ms=now_ms,
                feedback="No reference answer to compare with; please review this one.",
            )
        hit = sorted(reference & given)
        missing = sorted(reference - given)
        score = round(len(hit) / len(reference), 3)
        right = score >= self.pass_share
        if right:
            feedback = "Good answer: it covers " + ", ".join(hit) + "."
        elif hit:
            feedback = (f"Partly there ({', '.join(hit)}); also think about "
                        f"{', '.join(missing[:3])}.")
        else:
            feedback = f"Not yet: think about {', '.join(missing[:3])}."
        return Evaluation(
            answer_id=answer.id, question_id=question.id, user_id=answer.user_id, correct=right,
            score=score, feedback=feedback, evaluator=self.name, evaluated_at_ms=now_ms,
            details={"matched": hit, "missing": missing},
        )


class TextProviderEvaluator:
    """Free text through a model (the content pipeline's TextProvider); choices stay exact."""

    def __init__(
        self, provider: TextProvider, *, fallback: Evaluator | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.provider = provider
        self.fallback: Evaluator = fallback or LocalEvaluator()
        self.timeout_s = timeout_s

    @property
    def name(self) -> str:
        return f"ai:{self.provider.name}"

    async def evaluate(self, question: Question, answer: Answer, *, now_ms: int) -> Evaluation:
        if question.kind == "choice":
            return evaluate_choice(question, answer, now_ms=now_ms)
        try:
            async with asyncio.timeout(self.timeout_s):
                text = await self._complete(question, answer)
            verdict = _verdict(text)
        except Exception as exc:  # any provider failure: grade locally instead
            logger.warning("TextProviderEvaluator(%s) falling back: %s", self.provider.name, exc)
            local = await self.fallback.evaluate(question, answer, now_ms=now_ms)
            return Evaluation(**{**local.to_json(),
                                 "details": {**local.details, "fallback_reason": str(exc)}})
        return Evaluation(
            answer_id=answer.id, question_id=question.id, user_id=answer.user_id,
            correct=verdict["correct"], score=verdict["score"], feedback=verdict["feedback"],
            evaluator=self.name, evaluated_at_ms=now_ms,
        )

    async def _complete(self, question: Question, answer: Answer) -> str:
        request = build_evaluation_request(question.text, question.answer_text,
                                           answer.text or "", language=None)
        parts: list[str] = []
        async for delta in self.provider.stream(request):
            parts.append(delta.text)
        return "".join(parts)


def _verdict(text: str) -> dict[str, Any]:
    """Parse the model's JSON verdict (the first {...} in the text); ValueError if unusable."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the model's reply holds no JSON object")
    data = json.loads(text[start:end + 1])
    if not isinstance(data, dict) or not isinstance(data.get("correct"), bool):
        raise ValueError("the model's verdict lacks a boolean 'correct'")
    score = data.get("score", 1.0 if data["correct"] else 0.0)
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise ValueError("the model's verdict has a non-numeric 'score'")
    return {"correct": data["correct"], "score": round(min(max(float(score), 0.0), 1.0), 3),
            "feedback": str(data.get("feedback") or "")[:1000]}
