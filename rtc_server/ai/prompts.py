"""The prompt templates shared by the features that call a model (pure).

Every prompt the server sends lives in one of two modules.  This one holds
what more than one feature uses, so it sits below the features (which must
not import each other): how the material's passages are quoted within a
context budget (:func:`passages_block`, :data:`GROUNDED_RULES`), the hints
and answer-evaluation prompts (:func:`build_hints_request`,
:func:`build_evaluation_request`: the content feature's teaching aid sends
them with the passages, the interactions feature without material), and the
image prompt (:func:`build_image_prompt`, sent by
:class:`~.openai_provider.OpenAIImageProvider`).  The lesson, plan,
adaptation and supplement prompts are built from the content feature's
request models, so they live with them in :mod:`rtc_server.content.prompts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rtc_server.material.grounding import Grounding
from rtc_server.material.index import IndexedPassage
from rtc_server.material.passages import split_sentences

from .provider import ChatMessage, ImageRequest, LessonBrief, TextRequest

__all__ = [
    "DEFAULT_CONTEXT_BUDGET_CHARS",
    "EVALUATION_SYSTEM",
    "GROUNDED_EVALUATION_SYSTEM",
    "GROUNDED_RULES",
    "build_evaluation_request",
    "build_hints_request",
    "build_image_prompt",
    "language_line",
    "passages_block",
    "select_passages",
]

#: Characters of material quoted in one prompt (about 3,000 tokens of English).
DEFAULT_CONTEXT_BUDGET_CHARS = 12_000

GROUNDED_RULES = (
    "Teach only from the reading passages the user gives, each marked with its id in square "
    "brackets, e.g. [p3]. Every factual sentence you write must come from a passage; end it "
    "with the id of that passage in square brackets, e.g. [p3] or [p3, p7]. If the passages "
    "do not cover something, say that the reading does not cover it instead of adding facts."
)

_LANGUAGE_NAMES = {"en": "English", "ko": "Korean"}


def select_passages(grounding: Grounding, budget_chars: int) -> list[IndexedPassage]:
    """The ranked passages that fit ``budget_chars``, best first.

    The lowest-ranked passages are dropped first; if even the best passage
    is longer than the budget it is cut at a sentence boundary.
    """
    chosen: list[IndexedPassage] = []
    used = 0
    for passage in grounding.passages:
        cost = len(_passage_entry(passage))
        if used + cost <= budget_chars:
            chosen.append(passage)
            used += cost
    if not chosen and grounding.passages and budget_chars > 0:
        best = grounding.passages[0]
        kept: list[str] = []
        room = budget_chars - len(_passage_entry(best, ""))
        for sentence in split_sentences(best.text):
            if len(" ".join([*kept, sentence])) > room:
                break
            kept.append(sentence)
        if kept:
            chosen.append(replace(best, passage=replace(best.passage, text=" ".join(kept))))
    return chosen


def _passage_entry(passage: IndexedPassage, text: str | None = None) -> str:
    where = [w for w in (passage.heading, f"page {passage.page}" if passage.page else "") if w]
    head = f"[{passage.label}]" + (f" ({'; '.join(where)})" if where else "")
    return f"{head}\n{passage.text if text is None else text}"


def passages_block(grounding: Grounding, budget_chars: int) -> str:
    """The passages as the prompt quotes them, most relevant first."""
    entries = [_passage_entry(p) for p in select_passages(grounding, budget_chars)]
    # Only a published material's title: the model's text goes to the class.
    title = f" “{grounding.index.title}”" if grounding.index.title else ""
    intro = f"Reading passages from the teacher's material{title} (most relevant first):"
    if not grounding.matched:
        intro = (
            f"The teacher's material{title} does not mention the topic; these are its "
            "opening passages. Say so, and teach what the passages cover:"
        )
    return intro + "\n\n" + "\n\n".join(entries)


def language_line(language: str) -> str:
    """The instruction to write in ``language`` (a code such as ``ko``)."""
    return f"Write in {_LANGUAGE_NAMES.get(language, language)}."


def _grounded_task(
    system: str,
    user: list[str],
    grounding: Grounding | None,
    budget_chars: int,
    language: str | None,
) -> tuple[ChatMessage, ChatMessage]:
    if grounding is not None:
        system = f"{system} {GROUNDED_RULES}"
        user = [passages_block(grounding, budget_chars), *user]
    if language is not None:
        user.append(language_line(language))
    return ChatMessage("system", system), ChatMessage("user", "\n\n".join(user))


def build_hints_request(
    question: str,
    choices: Sequence[str],
    answer: str,
    *,
    grounding: Grounding | None = None,
    language: str | None = "en",
    budget_chars: int = DEFAULT_CONTEXT_BUDGET_CHARS,
) -> TextRequest:
    """Progressive hints as a JSON list; grounded hints quote and cite the passage.

    ``language`` None: no instruction which language to write in."""
    task = [
        f"Question: {question}\nChoices: {list(choices)}\nAnswer: {answer!r}",
        "Write three progressive hints that do not give the answer away at once. Reply with a "
        "JSON list of strings only.",
    ]
    if grounding is not None:
        task.append("Each hint points to or quotes the passage that holds the answer, with its "
                    "id in square brackets, e.g. [p3].")
    system, user = _grounded_task(
        "You write hints for a student's question.", task, grounding, budget_chars, language
    )
    return TextRequest(
        brief=LessonBrief(kind="hints", topic=question, prompt=user.content, grounding=grounding,
                          language=language or "en"),
        messages=(system, user),
        max_tokens=300,
        temperature=0.3,
    )


EVALUATION_SYSTEM = (
    "You grade a student's short answer for their teacher. Reply with one JSON object only: "
    '{"correct": true|false, "score": number 0..1, "feedback": "one or two sentences the '
    'teacher can pass on to the student"}.'
)
#: With passages, the verdict also names the ones the answer needs.
GROUNDED_EVALUATION_SYSTEM = EVALUATION_SYSTEM.replace(
    'student"}.', 'student", "sources": ["ids of the passages the answer needs"]}.'
)


def build_evaluation_request(
    question: str,
    reference: str,
    student_answer: str,
    *,
    grounding: Grounding | None = None,
    language: str | None = "en",
    budget_chars: int = DEFAULT_CONTEXT_BUDGET_CHARS,
) -> TextRequest:
    """A JSON verdict on a free-text answer, judged against the passages when grounded.

    ``language`` None: no instruction which language to write in."""
    task = [
        f"Question: {question}\nReference answer: {reference or '(none)'}\n"
        f"Student answer: {student_answer}"
    ]
    if grounding is not None:
        task.append("Judge the answer against the passages; in the feedback, name the passage "
                    "that holds the answer, e.g. [p3].")
    system = EVALUATION_SYSTEM if grounding is None else GROUNDED_EVALUATION_SYSTEM
    system_message, user = _grounded_task(system, task, grounding, budget_chars, language)
    return TextRequest(
        brief=LessonBrief(kind="evaluation", topic=question, prompt=user.content,
                          grounding=grounding, language=language or "en"),
        messages=(system_message, user),
        max_tokens=300,
        temperature=0.0,
    )


def build_image_prompt(request: ImageRequest) -> str:
    """The prompt for an image model: the requested subject, labelled with the material's terms."""
    prompt = f"Educational {request.style} for a classroom: {request.description}"
    if request.key_terms:
        prompt += ". Label these parts: " + ", ".join(request.key_terms)
    return prompt
