"""Turns a validated request plus session context into a :class:`TextRequest`.

Pure: the same request and context always give the same brief and the same
chat messages, which is also what makes cache keys stable.
"""

from __future__ import annotations

from typing import Any

from rtc_server.ai.provider import ChatMessage, Difficulty, LessonBrief, SectionSpec, TextRequest

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

__all__ = ["SYSTEM_PROMPT", "TextContentRequest", "build_text_request", "brief_fields"]

TextContentRequest = (
    LessonRequest | PlanRequest | AdaptRequest | SupplementRequest | PersonalizedRequest
)

SYSTEM_PROMPT = (
    "You write live classroom material that is streamed to students as you write it. "
    "Use Markdown with short paragraphs and '## ' section headings. Be accurate, concrete "
    "and age-appropriate; do not invent facts you are unsure of."
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


def _plan_instructions(sections: tuple[SectionSpec, ...], understanding: float | None) -> str:
    lines = [
        "Write the rest of the lesson as a plan. Use exactly these sections, in this "
        "order, each starting with its '## ' heading line as given:"
    ]
    for i, s in enumerate(sections, 1):
        lines.append(f"## {i}. {s.title} ({s.estimated_minutes} min)")
    if understanding is not None:
        lines.append(f"Measured class understanding: {understanding:.0%}.")
    return "\n".join(lines)


def build_text_request(
    request: TextContentRequest,
    context: LessonContext,
    *,
    group: ProfileGroup | None = None,
) -> TextRequest:
    brief = _brief(request, context, group)
    user: list[str] = [_context_line(context)]
    if isinstance(request, LessonRequest | PersonalizedRequest):
        user.append(f"Teacher's request: {request.prompt}")
    elif isinstance(request, PlanRequest):
        user.append(f"Topic: {request.topic}.")
        user.append(_plan_instructions(brief.sections, brief.understanding))
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
    messages = (
        ChatMessage("system", SYSTEM_PROMPT),
        ChatMessage("user", "\n\n".join(p for p in user if p)),
    )
    max_tokens = request.max_tokens if isinstance(request, LessonRequest) else None
    return TextRequest(brief=brief, messages=messages, max_tokens=max_tokens)


def _brief(
    request: TextContentRequest, context: LessonContext, group: ProfileGroup | None
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
    return LessonBrief(
        kind=request.kind,
        topic=topic,
        subject=context.subject,
        grade=context.grade,
        difficulty=difficulty,
        learning_style=style,
        covered_topics=context.covered_topics,
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
    }
