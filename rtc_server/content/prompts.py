"""The lesson prompts sent to a model, and the briefs for the local composer (pure).

:func:`build_text_request` turns a validated request (lesson, plan,
adaptation, supplement, personalised lesson) plus session context (and,
when the session has material, a :class:`Grounding`: the passages ranked
for the request) into a :class:`TextRequest`.  Grounded prompts quote the
passages with their ids, ask the model to teach only from them and to cite
the id after each sentence that uses one, and keep the passages within a
context budget (lowest-ranked passages are dropped first).

The templates more than one feature uses — the passage quoting, the hints
and answer-evaluation prompts, the image prompt — live one layer down in
:mod:`rtc_server.ai.prompts` (features may not import each other) and are
re-exported here; every other prompt the server sends is in this module.

Pure: the same request, context and grounding always give the same brief and
the same chat messages, which is also what makes cache keys stable.
"""

from __future__ import annotations

from typing import Any

from rtc_server.ai.prompts import (
    DEFAULT_CONTEXT_BUDGET_CHARS,
    GROUNDED_RULES,
    build_evaluation_request,
    build_hints_request,
    language_line,
    passages_block,
    select_passages,
)
from rtc_server.ai.provider import (
    ChatMessage,
    Difficulty,
    LessonBrief,
    SectionSpec,
    TextRequest,
)
from rtc_server.material.grounding import Grounding
from rtc_server.material.material import detect_language

from .framing import framing_language, section_title
from .planner import plan_sections, understanding_from_responses
from .requests import (
    AdaptRequest,
    LessonContext,
    LessonRequest,
    PersonalizedRequest,
    PlanRequest,
    ProfileGroup,
    SupplementRequest,
)

__all__ = [
    "DEFAULT_CONTEXT_BUDGET_CHARS",
    "GROUNDED_RULES",
    "SYSTEM_PROMPT",
    "TextContentRequest",
    "brief_fields",
    "build_evaluation_request",
    "build_hints_request",
    "build_text_request",
    "passages_block",
    "retrieval_query",
    "select_passages",
]

TextContentRequest = (
    LessonRequest | PlanRequest | AdaptRequest | SupplementRequest | PersonalizedRequest
)

SYSTEM_PROMPT = (
    "You write live classroom material that is streamed to students as you write it. "
    "Use Markdown with short paragraphs and '## ' section headings. Be accurate, concrete "
    "and age-appropriate; do not invent facts you are unsure of."
)

_GROUNDED_LESSON = (
    "Use these '## ' sections: Summary; Key terms (each with the sentence that defines it); "
    "Worked example (drawn from a passage); Try it (questions whose answers are in the "
    "passages, fill-in-the-blank and multiple choice); Answers."
)

_STYLE_HINTS = {
    "visual": "Favour diagrams described in words, tables and spatial layouts.",
    "auditory": "Favour explanations that read well aloud and discussion prompts.",
    "reading_writing": "Favour clear definitions, lists and short writing tasks.",
    "kinesthetic": "Favour hands-on activities and physical models.",
    "mixed": "Mix explanation, an example and a short activity.",
}


def _context_line(context: LessonContext) -> str:
    parts = []
    if context.subject:
        parts.append(f"Subject: {context.subject}.")
    if context.grade:
        parts.append(f"Grade level: {context.grade}.")
    if context.current_topic:
        parts.append(f"Current topic: {context.current_topic}.")
    if context.covered_topics:
        parts.append("Already covered: " + ", ".join(context.covered_topics) + ".")
    return " ".join(parts)


def _plan_instructions(
    sections: tuple[SectionSpec, ...], understanding: float | None, language: str = "en"
) -> str:
    lines = [
        "Write the rest of the lesson as a plan. Use exactly these sections, in this "
        "order, each starting with its '## ' heading line as given:"
    ]
    for i, s in enumerate(sections, 1):
        title = section_title(language, s.type, s.title)
        lines.append(f"## {i}. {title} ({s.estimated_minutes} min)")
    if understanding is not None:
        lines.append(f"Measured class understanding: {understanding:.0%}.")
    return "\n".join(lines)


def retrieval_query(request: TextContentRequest, context: LessonContext) -> str:
    """The words the material's passages are ranked against for ``request``."""
    if isinstance(request, LessonRequest | PersonalizedRequest):
        return " ".join(p for p in (request.topic or "", request.prompt) if p)
    if isinstance(request, PlanRequest):
        return request.topic
    if isinstance(request, SupplementRequest):
        return " ".join(p for p in (request.topic or context.current_topic, request.details) if p)
    return request.text[:500]


def build_text_request(
    request: TextContentRequest,
    context: LessonContext,
    *,
    group: ProfileGroup | None = None,
    grounding: Grounding | None = None,
    budget_chars: int = DEFAULT_CONTEXT_BUDGET_CHARS,
) -> TextRequest:
    """``grounding`` is the session's material ranked for this request (None: no material).

    ``adapt`` requests are never grounded: they rewrite the text they carry.
    """
    if isinstance(request, AdaptRequest):
        grounding = None
    brief = _brief(request, context, group, grounding)
    user: list[str] = [_context_line(context)]
    if grounding is not None:
        user.append(passages_block(grounding, budget_chars))
    if isinstance(request, LessonRequest | PersonalizedRequest):
        user.append(f"Teacher's request: {request.prompt}")
        if grounding is not None:
            user.append(_GROUNDED_LESSON)
    elif isinstance(request, PlanRequest):
        user.append(f"Topic: {request.topic}.")
        user.append(_plan_instructions(brief.sections, brief.understanding, brief.language))
    elif isinstance(request, AdaptRequest):
        user.append(
            f"Rewrite the following material for a {brief.difficulty} level, adjusting "
            "vocabulary, level of detail and the complexity of examples. Keep it correct.\n\n"
            f"{request.text}"
        )
    else:
        user.append(
            f"Several students need help ({request.trigger.replace('_', ' ')}): "
            f"{request.details}. Explain the idea again in a different way, step by step, "
            "then give one quick check question."
        )
    user.append(f"Target level: {brief.difficulty}. {_STYLE_HINTS[brief.learning_style]}")
    if grounding is not None:
        user.append("Cite passage ids in square brackets, e.g. [p3], after the sentences that "
                    "use them.")
    if grounding is not None or context.language:
        # Only a language someone decided (session or material), never a default.
        user.append(language_line(context.language or brief.language))
    system = SYSTEM_PROMPT if grounding is None else f"{SYSTEM_PROMPT} {GROUNDED_RULES}"
    messages = (
        ChatMessage("system", system),
        ChatMessage("user", "\n\n".join(p for p in user if p)),
    )
    max_tokens = request.max_tokens if isinstance(request, LessonRequest) else None
    return TextRequest(brief=brief, messages=messages, max_tokens=max_tokens)


def _brief(
    request: TextContentRequest,
    context: LessonContext,
    group: ProfileGroup | None,
    grounding: Grounding | None,
) -> LessonBrief:
    topic = context.current_topic
    difficulty: Difficulty = "intermediate"
    style = "mixed"
    extra: dict[str, Any] = {}
    if isinstance(request, LessonRequest):
        topic = request.topic or topic or request.prompt
        difficulty = request.difficulty or difficulty
        style = request.learning_style or style
        extra["prompt"] = request.prompt
    elif isinstance(request, PersonalizedRequest):
        topic = request.topic or topic or request.prompt
        extra["prompt"] = request.prompt
        if group is not None:
            difficulty, style = group.level, group.learning_style
    elif isinstance(request, PlanRequest):
        topic = request.topic
        understanding = request.understanding
        if understanding is None:
            understanding = understanding_from_responses(
                [(r.correct, r.confidence) for r in request.responses]
            )
        sections = plan_sections(request.minutes_remaining, understanding)
        difficulty = sections[0].difficulty if sections else difficulty
        extra.update(
            minutes=request.minutes_remaining, understanding=understanding, sections=sections
        )
    elif isinstance(request, AdaptRequest):
        topic = topic or request.text[:80]
        difficulty = request.difficulty
        style = request.learning_style or style
        extra["source_text"] = request.text
    else:
        topic = request.topic or topic or request.details[:80]
        difficulty = "beginner"
        extra.update(trigger=request.trigger, details=request.details)
    if grounding is not None:
        material_language = grounding.language
    elif isinstance(request, AdaptRequest):
        material_language = detect_language(request.text)
    else:
        material_language = ""
    return LessonBrief(
        kind=request.kind,
        topic=topic,
        subject=context.subject,
        grade=context.grade,
        difficulty=difficulty,
        learning_style=style,
        covered_topics=context.covered_topics,
        grounding=grounding,
        language=framing_language(context.language, material_language),
        **extra,
    )


def brief_fields(brief: LessonBrief) -> dict[str, Any]:
    """The brief as plain data, for cache keys and history records."""
    return {
        "kind": brief.kind,
        "topic": brief.topic,
        "prompt": brief.prompt,
        "subject": brief.subject,
        "grade": brief.grade,
        "difficulty": brief.difficulty,
        "learning_style": brief.learning_style,
        "minutes": brief.minutes,
        "covered_topics": list(brief.covered_topics),
        "source_text": brief.source_text,
        "trigger": brief.trigger,
        "details": brief.details,
        "understanding": None if brief.understanding is None else round(brief.understanding, 3),
        "sections": [s.as_dict() for s in brief.sections],
        "language": brief.language,
        "grounding": None if brief.grounding is None else brief.grounding.cache_fields(),
    }
