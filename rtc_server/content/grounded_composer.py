"""The local composer teaching from the session's material (pure).

Lessons, plans and supplementary explanations are assembled from the
passages ranked for the request (``brief.grounding``): an extractive
summary, key terms with the sentence that defines them, the material's own
outline, a worked example (the material's steps, or one question solved by
finding its sentence), questions with answers, and hints that quote the
passage.  Facts are only ever sentences of the material, each followed by
the citation of its passage (``[p3]``); everything else is framing from
:mod:`.framing` in the brief's language.
"""

from __future__ import annotations

from rtc_server.ai.provider import LessonBrief, SectionSpec
from rtc_server.material.grounding import Grounding, cite
from rtc_server.material.index import MaterialIndex
from rtc_server.material.questions import Question, hint_plan

from .framing import level_line, material_source, phrase, section_title
from .grounded_parts import (
    answer_lines,
    link_question,
    outline_lines,
    question_lines,
    questions,
    sequence_lines,
    summary_lines,
    term_labels,
    term_lines,
    worked_example,
)

__all__ = ["grounded_lesson", "grounded_plan", "grounded_supplement", "material_hints"]

# (summary sentences, key terms, questions) per difficulty.
_SIZES = {"beginner": (3, 4, 3), "intermediate": (4, 6, 4), "advanced": (5, 8, 5)}


def _scope(grounding: Grounding) -> list[int]:
    return sorted({h.index for h in grounding.hits})


def _opening(brief: LessonBrief, grounding: Grounding, title: str) -> list[str]:
    lang = brief.language
    lines = [
        f"# {title}",
        "",
        phrase(lang, "disclosure_material", source=material_source(lang, grounding.index.title)),
        "",
        level_line(lang, brief.difficulty, brief.grade),
    ]
    if not grounding.matched:
        lines += ["", phrase(lang, "not_found", topic=brief.topic)]
    return lines


def _activity(brief: LessonBrief, terms: list[str]) -> str:
    key = f"activity_{brief.learning_style}"
    topic = brief.topic.casefold()
    joined = ", ".join([t for t in terms if t.casefold() not in topic][:4])
    try:
        return phrase(brief.language, key, topic=brief.topic, terms=joined)
    except KeyError:
        return phrase(brief.language, "activity_mixed", topic=brief.topic, terms=joined)


def grounded_lesson(brief: LessonBrief, grounding: Grounding) -> list[str]:
    lang, index = brief.language, grounding.index
    scope = _scope(grounding)
    n_summary, n_terms, n_questions = _SIZES.get(brief.difficulty, _SIZES["intermediate"])
    items = questions(index, scope, brief.difficulty, n_questions + 1)
    steps = sequence_lines(index, scope, lang)
    example: list[str] = steps
    if not steps and items:
        example = worked_example(items[0], lang)
        items = items[1:]
    items = items[:n_questions]
    lines = _opening(brief, grounding, brief.topic)
    lines += ["", f"## {phrase(lang, 'h_summary')}", *summary_lines(index, scope, n_summary)]
    lines += ["", f"## {phrase(lang, 'h_terms')}", *term_lines(index, scope, n_terms)]
    lines += ["", f"## {phrase(lang, 'h_outline')}", *outline_lines(index, scope)]
    if example:
        lines += ["", f"## {phrase(lang, 'h_example')}", *example]
    lines += ["", f"## {phrase(lang, 'h_try')}", _activity(brief, term_labels(index, scope, 6))]
    lines += question_lines(items, lang, word_bank=brief.difficulty == "beginner")
    if brief.difficulty == "advanced":
        link = link_question(index, scope, lang)
        if link:
            lines.append(f"{len(items) + 1}. {link}")
    if items:
        lines += ["", f"## {phrase(lang, 'h_answers')}", *answer_lines(items)]
    return lines


def grounded_plan(brief: LessonBrief, grounding: Grounding) -> list[str]:
    lang, index = brief.language, grounding.index
    scope = _scope(grounding)
    title = phrase(lang, "plan_title", topic=brief.topic, minutes=str(brief.minutes or 0))
    lines = _opening(brief, grounding, title)
    if brief.understanding is not None:
        pace = {"beginner": "pace_slow", "advanced": "pace_fast"}.get(brief.difficulty, "pace_ok")
        share = f"{brief.understanding:.0%}"
        lines += ["", phrase(lang, "measured", share=share, pace=phrase(lang, pace))]
    pool = questions(index, scope, brief.difficulty, 2 * len(brief.sections) + 2)
    for i, spec in enumerate(brief.sections, 1):
        heading = section_title(lang, spec.type, spec.title)
        lines += ["", f"## {i}. {heading} ({spec.estimated_minutes} min)"]
        lines += _plan_section(brief, spec, index, scope, pool)
        if spec.materials:
            lines.append(phrase(lang, "materials", items=", ".join(spec.materials)))
    return lines


def _take(pool: list[Question], n: int) -> list[Question]:
    taken = pool[:n]
    del pool[:n]
    return taken


def _plan_section(
    brief: LessonBrief,
    spec: SectionSpec,
    index: MaterialIndex,
    scope: list[int],
    pool: list[Question],
) -> list[str]:
    lang = brief.language
    if spec.type in ("review", "recap"):
        terms = ", ".join(f"**{t}**" for t in term_labels(index, scope, 4))
        return [phrase(lang, "recall"), *summary_lines(index, scope, 2), terms]
    if spec.type == "explanation":
        return outline_lines(index, scope)[:3] + term_lines(index, scope, 2)
    if spec.type == "guided_practice":
        steps = sequence_lines(index, scope, lang)
        if steps:
            return steps
        return worked_example(pool.pop(0), lang) if pool else summary_lines(index, scope, 2)
    items = _take(pool, 1 if spec.type in ("challenge", "wrap_up") else 2)
    out: list[str] = []
    if spec.type == "challenge":
        link = link_question(index, scope, lang)
        out += [link] if link else []
    if spec.type == "wrap_up":
        terms = ", ".join(term_labels(index, scope, 3))
        out.append(phrase(lang, "exit_summary", topic=brief.topic, terms=terms))
    out += question_lines(items, lang)
    if items:
        out.append(f"{phrase(lang, 'h_answers')}: " + "; ".join(answer_lines(items)))
    return out


def grounded_supplement(brief: LessonBrief, grounding: Grounding) -> list[str]:
    lang, index = brief.language, grounding.index
    top = [grounding.hits[0].index] if grounding.hits else []
    why = phrase(lang, "why_confusion" if brief.trigger == "confusion" else "why_wrong")
    lines = [
        f"## {phrase(lang, 'h_another_way', topic=brief.topic)}",
        "",
        phrase(lang, "disclosure_material", source=material_source(lang, index.title)),
        "",
        phrase(lang, "why", why=why, details=brief.details),
        "",
        f"## {phrase(lang, 'h_reading_says')}",
        *summary_lines(index, top, 2),
    ]
    steps = sequence_lines(index, _scope(grounding), lang)
    if not steps and top:
        passage = index.passages[top[0]]
        sentences = [index.sentences[s].text for s in passage.sentences]
        steps = [f"{i}. {s} {cite(passage.label)}" for i, s in enumerate(sentences, 1)]
    if steps:
        lines += ["", f"## {phrase(lang, 'h_steps')}", *steps]
    items = questions(index, top or _scope(grounding), "beginner", 1)
    if items:
        lines += ["", f"## {phrase(lang, 'h_check')}", *question_lines(items, lang)]
        plan = hint_plan(index, items[0].prompt, items[0].answer)
        if plan is not None and plan.quote != items[0].prompt:
            lines.append(phrase(lang, "hint", cite=cite(plan.source), quote=plan.quote))
        else:  # the sentence is the question itself: point to its passage instead
            lines.append(phrase(lang, "hint_look", label=items[0].source, where=""))
    return lines


def material_hints(index: MaterialIndex, question: str, answer: str, language: str) -> list[str]:
    """Progressive hints that quote the passage holding the answer (empty if none does).

    1. which passage to read again; 2. its sentence with the answer blanked;
    3. the first letter of the answer.
    """
    plan = hint_plan(index, question, answer)
    if plan is None:
        return []
    where = ""
    # A heading that names the answer would give it away in the gentlest hint.
    if plan.heading and not (plan.answer and plan.answer.lower() in plan.heading.lower()):
        where += phrase(language, "hint_where_heading", heading=plan.heading)
    if plan.page is not None:
        where += phrase(language, "hint_where_page", page=str(plan.page))
    hints = [
        phrase(language, "hint_look", label=plan.source, where=where),
        phrase(language, "hint_quote", quote=plan.quote, cite=cite(plan.source)),
    ]
    if plan.answer and plan.quote != plan.answer and "____" in plan.quote:
        hints.append(phrase(language, "hint_start", first=plan.answer[:1]))
    return hints
