"""Hints prepared when a question opens: progressive, from gentle to nearly the answer.

:class:`HintProvider` is the interface; :class:`LocalHintProvider` builds
hints from the question itself (its key terms, eliminating wrong choices,
the start of the reference answer). :class:`TextProviderHintProvider` asks a
model and falls back to the local hints.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol, runtime_checkable

from rtc_server.ai.prompts import build_hints_request
from rtc_server.ai.provider import TextProvider

from .evaluator import keywords
from .exceptions import InvalidRequest
from .questions import Question

__all__ = [
    "MAX_HINTS",
    "MAX_HINT_CHARS",
    "HintProvider",
    "LocalHintProvider",
    "TextProviderHintProvider",
    "teacher_hints",
]

logger = logging.getLogger(__name__)
#: Prepared hints of a question, and the length of one a teacher writes.
MAX_HINTS = 5
MAX_HINT_CHARS = 500


def teacher_hints(hints: list[str]) -> list[str]:
    """The hints a teacher wrote for a question, trimmed; errors name the field.

    The message model has bounded the count and the length already (the boundary);
    what is left is a hint of blanks only, which would show students an empty card."""
    cleaned = [h.strip() for h in hints]
    for index, hint in enumerate(cleaned):
        if not hint:
            raise InvalidRequest(f"field 'hints.{index}': hint {index + 1} is empty; "
                                 "write it, or leave it out")
    return cleaned


@runtime_checkable
class HintProvider(Protocol):
    async def hints(self, question: Question) -> list[str]:
        """Hints from the least to the most revealing (at least one)."""
        ...


class LocalHintProvider:
    async def hints(self, question: Question) -> list[str]:
        terms = sorted(keywords(question.text), key=len, reverse=True)[:3]
        out = [f"Read the question again and focus on: {', '.join(terms)}." if terms else
               "Read the question again slowly: what exactly is it asking?"]
        if question.kind == "choice":
            if isinstance(question.correct, int) and not isinstance(question.correct, bool):
                wrong = [c for i, c in enumerate(question.choices) if i != question.correct]
                # Rule out half of the wrong choices, then all but one of them.
                out.append(f"It is not {_either(wrong[: max(1, len(wrong) // 2)])}.")
                if len(wrong) > 1:
                    pair = sorted([question.choices[question.correct], wrong[-1]])
                    out.append(f"It is either {pair[0]!r} or {pair[1]!r}.")
            else:
                out.append("Rule out the choices you know are wrong first.")
        elif isinstance(question.correct, str) and question.correct.strip():
            ref = sorted(keywords(question.correct), key=len, reverse=True)
            if ref:
                out.append(f"A good answer mentions {ref[0]!r}.")
            words = question.correct.split()
            if len(words) > 3:
                out.append(f"You could start with: \"{' '.join(words[:3])} …\"")
        else:
            out.append("Write down what you already know about it, then add one example.")
        return out[:MAX_HINTS]


def _either(choices: list[str]) -> str:
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class TextProviderHintProvider:
    """Hints from a model (a JSON list of strings); the local hints when that fails."""

    def __init__(
        self, provider: TextProvider, *, fallback: HintProvider | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.provider = provider
        self.fallback: HintProvider = fallback or LocalHintProvider()
        self.timeout_s = timeout_s

    async def hints(self, question: Question) -> list[str]:
        # No language line: the question's own language is the one to answer in.
        request = build_hints_request(question.text, question.choices, question.answer_text,
                                      language=None)
        try:
            async with asyncio.timeout(self.timeout_s):
                text = "".join([d.text async for d in self.provider.stream(request)])
            start, end = text.find("["), text.rfind("]")
            hints = json.loads(text[start:end + 1]) if 0 <= start < end else None
            if not isinstance(hints, list) or not hints or not all(
                    isinstance(h, str) and h.strip() for h in hints):
                raise ValueError("the model's reply is not a JSON list of hints")
            return [h.strip() for h in hints][:MAX_HINTS]
        except Exception as exc:  # any provider failure: local hints instead
            logger.warning("TextProviderHintProvider(%s) falling back: %s",
                           self.provider.name, exc)
            return await self.fallback.hints(question)
