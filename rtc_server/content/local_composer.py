"""Composes lesson text without a model (pure): from the material, or honestly without.

This is the embedded default when no model is configured.  It is not a
language model and says so in every text it writes.

* With material (``brief.grounding``) it teaches from it: see
  :mod:`.grounded_composer`.  Every fact is a sentence of the material with
  the citation of its passage.
* Without material it states no facts at all: it says what it can do once a
  reading is added, and gives a lesson frame made of teaching moves
  (what to ask, what to check) around the teacher's own topic.  It never
  picks "key words" out of the teacher's prompt and presents them as the
  subject's.
* ``adapt`` rewrites the text the teacher gave, using only its sentences.

Grade and language come from the brief (the session), never from a guess.
The same brief always gives the same text.
"""

from __future__ import annotations

from rtc_server.ai.provider import LessonBrief, SectionSpec
from rtc_server.material.extract import material_from_text
from rtc_server.material.index import MaterialIndex
from rtc_server.material.tokens import tokenize

from .exceptions import MaterialError
from .framing import level_line, phrase, section_title
from .grounded_composer import grounded_lesson, grounded_plan, grounded_supplement
from .grounded_parts import question_lines, questions, summary_lines, term_lines

__all__ = ["compose", "key_terms"]

#: Creation time of the throw-away material made from an adapt request's text
#: (fixed so that composing stays deterministic).
_ADAPT_EPOCH = 0.0


def key_terms(*texts: str, limit: int = 6) -> list[str]:
    """Distinct content words of the given texts, in order (the request's own words).

    Only for labelling what the teacher asked for (e.g. a diagram of their
    description); never presented as the key terms of a subject.
    """
    seen: set[str] = set()
    terms: list[str] = []
    for text in texts:
        for token in tokenize(text):
            if not token.content or (not token.hangul and len(token.term) < 3):
                continue
            keep = token.hangul or token.surface.isupper()  # "DNA" stays upper case
            label = token.surface if keep else token.surface.lower()
            if token.term in seen:
                continue
            seen.add(token.term)
            terms.append(label)
            if len(terms) == limit:
                return terms
    return terms


def _honest_opening(brief: LessonBrief, title: str) -> list[str]:
    lang = brief.language
    lines = [
        f"# {title}",
        "",
        phrase(lang, "disclosure"),
        "",
        level_line(lang, brief.difficulty, brief.grade),
        "",
        phrase(lang, "no_material", topic=brief.topic),
    ]
    return lines


def _activity(brief: LessonBrief) -> str:
    words = ", ".join(key_terms(brief.topic, limit=3)) or brief.topic
    try:
        return phrase(brief.language, f"activity_{brief.learning_style}", topic=brief.topic,
                      terms=words)
    except KeyError:
        return phrase(brief.language, "activity_mixed", topic=brief.topic, terms=words)


def _lesson(brief: LessonBrief) -> list[str]:
    lang, topic = brief.language, brief.topic
    lines = _honest_opening(brief, topic)
    lines += ["", f"## {phrase(lang, 'h_can_do')}", phrase(lang, "can_do")]
    lines += [
        "",
        f"## {phrase(lang, 'h_frame', topic=topic)}",
        f"1. {phrase(lang, 'frame_start', topic=topic)}",
        f"2. {phrase(lang, 'frame_teach', topic=topic)}",
        f"3. {_activity(brief)}",
        f"4. {phrase(lang, 'frame_check', topic=topic)}",
    ]
    return lines


_SECTION_TEXT = {
    "review": "Revisit the basics of {topic}: ask students to restate what they remember and "
    "work one short example together on the board before moving on.",
    "guided_practice": "Work through two problems on {topic} together, one step at a time; "
    "students say the next step before it is written. Pause after each step for questions.",
    "check": "Ask two quick questions on {topic}; students answer on mini-whiteboards so "
    "misunderstandings show at once.",
    "recap": "Recall the last lesson in one minute: what do students remember, and where did "
    "they use it?",
    "explanation": "Introduce the next idea of {topic} with one concrete example from your "
    "material.",
    "practice": "Students practise on their own with three tasks on {topic}, from easy to "
    "harder; circulate and note common mistakes.",
    "challenge": "Pose an open problem on {topic}; pairs justify their approach before solving.",
    "wrap_up": "Summarise {topic} in one sentence together and answer one exit question.",
}


def _plan(brief: LessonBrief) -> list[str]:
    lang = brief.language
    title = phrase(lang, "plan_title", topic=brief.topic, minutes=str(brief.minutes or 0))
    lines = _honest_opening(brief, title)
    if brief.understanding is not None:
        pace = {"beginner": "pace_slow", "advanced": "pace_fast"}.get(brief.difficulty, "pace_ok")
        lines += ["", phrase(lang, "measured", share=f"{brief.understanding:.0%}",
                             pace=phrase(lang, pace))]
    for i, spec in enumerate(brief.sections, 1):
        lines += ["", *_plan_section(i, spec, brief)]
    return lines


def _plan_section(i: int, spec: SectionSpec, brief: LessonBrief) -> list[str]:
    # The teaching moves are English only; Korean sessions get them with Korean headings.
    template = _SECTION_TEXT.get(spec.type, "Continue with {topic}.")
    heading = section_title(brief.language, spec.type, spec.title)
    out = [f"## {i}. {heading} ({spec.estimated_minutes} min)", template.format(topic=brief.topic)]
    if spec.materials:
        out.append(phrase(brief.language, "materials", items=", ".join(spec.materials)))
    return out


def _supplement(brief: LessonBrief) -> list[str]:
    lang = brief.language
    why = phrase(lang, "why_confusion" if brief.trigger == "confusion" else "why_wrong")
    steps = phrase(lang, "again_steps", topic=brief.topic).split("|")
    return [
        f"## {phrase(lang, 'h_another_way', topic=brief.topic)}",
        "",
        phrase(lang, "disclosure"),
        "",
        phrase(lang, "why", why=why, details=brief.details),
        "",
        f"## {phrase(lang, 'h_steps')}",
        *(f"{n}. {step}" for n, step in enumerate(steps, 1)),
        "",
        phrase(lang, "can_do"),
    ]


def _adapt(brief: LessonBrief) -> list[str]:
    """The teacher's text at another level, built only from its own sentences."""
    lang = brief.language
    try:
        material = material_from_text(
            brief.source_text, title=brief.topic, material_id="adapt", created_at=_ADAPT_EPOCH
        )
    except MaterialError:
        return [f"# {brief.topic}", "", phrase(lang, "disclosure"), "", brief.source_text]
    index = MaterialIndex([material])
    scope = list(range(len(index.passages)))
    level = phrase(lang, brief.difficulty)
    lines = [f"# {phrase(lang, 'adapt_title', topic=brief.topic, level=level)}", "",
             phrase(lang, "disclosure"), ""]
    # Citations would point into the teacher's own text, not the session's material: drop them.
    summary = [_uncited(line) for line in summary_lines(index, scope, 3)]
    if brief.difficulty == "beginner":
        lines += [f"## {phrase(lang, 'h_short')}", *summary]
        words = [_uncited(line) for line in term_lines(index, scope, 5)]
        if words:
            lines += ["", f"## {phrase(lang, 'h_words')}", *words]
        lines += ["", f"## {phrase(lang, 'h_one_by_one')}"]
        lines += [f"- {s.text}" for s in index.sentences]
    else:
        lines += [f"## {phrase(lang, 'h_text')}", " ".join(s.text for s in index.sentences)]
        lines += ["", f"## {phrase(lang, 'h_key_points')}", *summary]
        if brief.difficulty == "advanced":
            items = questions(index, scope, "advanced", 3)
            if items:
                lines += ["", f"## {phrase(lang, 'h_further')}"]
                lines += [_uncited(line) for line in question_lines(items, lang)]
    return lines


def _uncited(line: str) -> str:
    head, bracket, _ = line.rpartition(" [p")
    return head if bracket else line


def compose(brief: LessonBrief) -> str:
    """The full Markdown text for ``brief``."""
    grounding = brief.grounding
    if brief.kind == "adapt":
        lines = _adapt(brief)
    elif grounding is not None and grounding.hits:
        if brief.kind == "plan":
            lines = grounded_plan(brief, grounding)
        elif brief.kind == "supplement":
            lines = grounded_supplement(brief, grounding)
        else:
            lines = grounded_lesson(brief, grounding)
    elif brief.kind == "plan":
        lines = _plan(brief)
    elif brief.kind == "supplement":
        lines = _supplement(brief)
    else:
        lines = _lesson(brief)
    return "\n".join(lines).strip() + "\n"
