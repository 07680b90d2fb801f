"""Questions and answers: validation, closing rules and exact-match evaluation (no I/O).

Resubmission rule: a student has **one** answer per question, final on first
submission. Sending the same ``answer.submit`` again (same client message
``id``) returns the original receipt (``duplicate: true``); any other second
answer is refused with ``already_answered``, whose message names the first
answer's id. An answer is refused with ``question_closed`` once the question
is closed, or once its time limit has passed even if the closing timer has
not fired yet (the store repeats the time check atomically).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .exceptions import InvalidRequest, QuestionClosed

__all__ = [
    "MAX_CHOICES",
    "MAX_OPEN_QUESTIONS",
    "MAX_TIME_LIMIT_S",
    "Answer",
    "Evaluation",
    "Question",
    "QuestionKind",
    "check_answer_shape",
    "check_open",
    "evaluate_choice",
    "new_question",
    "summary",
]

QuestionKind = Literal["choice", "free"]
QuestionStatus = Literal["open", "closed"]
MIN_CHOICES = 2
MAX_CHOICES = 10
MIN_TIME_LIMIT_S = 1
MAX_TIME_LIMIT_S = 3600
#: Questions open at once in a session: every snapshot lists them (a bound on its size).
MAX_OPEN_QUESTIONS = 20


@dataclass(frozen=True, kw_only=True)
class Question:
    """A question put to the class. ``correct`` is never sent to students."""

    id: str
    text: str
    kind: QuestionKind
    choices: tuple[str, ...] = ()
    # Choice questions: the index of the right choice. Free questions: a reference answer.
    correct: int | str | None = None
    time_limit_s: int | None = None
    opened_at_ms: int
    closes_at_ms: int | None = None
    asked_by: str
    status: QuestionStatus = "open"
    closed_at_ms: int | None = None
    close_reason: str | None = None
    # An automatic rule: a student whose answer is wrong gets the first prepared hint.
    auto_hint: bool = False
    # A breakout group the question is for (None: the whole class).
    group: str | None = None

    @property
    def answer_text(self) -> str:
        """The right answer as text: the right choice, or the reference answer ("" for none)."""
        correct = self.correct
        if isinstance(correct, bool) or correct is None:
            return ""
        if isinstance(correct, int):
            return self.choices[correct] if 0 <= correct < len(self.choices) else ""
        return correct

    def to_json(self, *, full: bool) -> dict[str, Any]:
        """The question as sent; ``full=False`` (students, observers) leaves out ``correct``.
        ``to`` is the audience in the protocol's target form."""
        data = asdict(self)
        data["choices"] = list(self.choices)
        data["to"] = {"group": self.group} if self.group else {"session": True}
        if not full:
            data.pop("correct")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        values = dict(data)
        values.pop("to", None)  # derived from ``group``
        values["choices"] = tuple(values.get("choices") or ())
        return cls(**values)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, kw_only=True)
class Answer:
    id: str
    question_id: str
    user_id: str
    name: str
    choice: int | None = None
    text: str | None = None
    client_id: str
    submitted_at_ms: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(**data)


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    answer_id: str
    question_id: str
    user_id: str
    # None when the evaluator cannot say right/wrong (free text without a reference).
    correct: bool | None
    score: float
    feedback: str
    evaluator: str
    evaluated_at_ms: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        return cls(**data)


def new_question(
    *, question_id: str, text: str, kind: QuestionKind, choices: list[str] | tuple[str, ...],
    correct: int | str | None, time_limit_s: int | None, asked_by: str, now_ms: int,
    auto_hint: bool = False, group: str | None = None,
) -> Question:
    """Validate what a teacher asks; errors name the field."""
    text = text.strip()
    if not text:
        raise InvalidRequest("field 'text': a question needs text")
    cleaned = tuple(c.strip() for c in choices)
    if kind == "choice":
        if not MIN_CHOICES <= len(cleaned) <= MAX_CHOICES:
            raise InvalidRequest(
                f"field 'choices': a choice question needs {MIN_CHOICES} to {MAX_CHOICES} "
                f"choices, got {len(cleaned)}"
            )
        if any(not c for c in cleaned):
            raise InvalidRequest("field 'choices': choices must not be empty")
        if len(set(cleaned)) != len(cleaned):
            raise InvalidRequest("field 'choices': choices must differ")
        if correct is not None and (
            isinstance(correct, bool) or not isinstance(correct, int)
            or not 0 <= correct < len(cleaned)
        ):
            raise InvalidRequest(
                f"field 'correct': give the index of the right choice (0..{len(cleaned) - 1})"
            )
    else:
        if cleaned:
            raise InvalidRequest("field 'choices': a free question has no choices")
        if correct is not None and not isinstance(correct, str):
            raise InvalidRequest("field 'correct': a free question's reference answer is text")
    if time_limit_s is not None and not MIN_TIME_LIMIT_S <= time_limit_s <= MAX_TIME_LIMIT_S:
        raise InvalidRequest(
            f"field 'time_limit_s': {MIN_TIME_LIMIT_S}..{MAX_TIME_LIMIT_S} seconds, "
            f"got {time_limit_s}"
        )
    closes = now_ms + time_limit_s * 1000 if time_limit_s is not None else None
    return Question(
        id=question_id, text=text, kind=kind, choices=cleaned, correct=correct,
        time_limit_s=time_limit_s, opened_at_ms=now_ms, closes_at_ms=closes, asked_by=asked_by,
        auto_hint=auto_hint, group=group,
    )


def check_open(question: Question, now_ms: int) -> None:
    """Raise :class:`QuestionClosed` with the reason if ``question`` takes no answers now."""
    if not question.is_open:
        how = {"teacher": " by the teacher", "time": " when its time limit ended"}.get(
            question.close_reason or "", "")
        raise QuestionClosed(
            f"cannot answer question {question.id!r} in state 'closed' (closed{how})"
        )
    if question.closes_at_ms is not None and now_ms > question.closes_at_ms:
        late_s = (now_ms - question.closes_at_ms) / 1000
        raise QuestionClosed(
            f"too late: the time limit of {question.time_limit_s} s for question "
            f"{question.id!r} ended {late_s:.1f} s ago"
        )


def check_answer_shape(question: Question, choice: int | None, text: str | None) -> None:
    """The answer must fit the question's kind: a choice index, or text."""
    if question.kind == "choice":
        if choice is None:
            raise InvalidRequest(f"field 'choice': question {question.id!r} needs a choice index")
        if not 0 <= choice < len(question.choices):
            raise InvalidRequest(
                f"field 'choice': {choice} is not a choice of question {question.id!r} "
                f"(0..{len(question.choices) - 1})"
            )
    elif text is None or not text.strip():
        raise InvalidRequest(f"field 'text': question {question.id!r} needs a text answer")


def evaluate_choice(question: Question, answer: Answer, *, now_ms: int) -> Evaluation:
    """Exact match against the right choice (``correct`` None: no key, nothing to judge)."""
    chosen = question.choices[answer.choice] if answer.choice is not None else ""
    if question.correct is None:
        return Evaluation(
            answer_id=answer.id, question_id=question.id, user_id=answer.user_id, correct=None,
            score=0.0, feedback=f'Chose "{chosen}"; the question has no answer key.',
            evaluator="exact-match", evaluated_at_ms=now_ms,
        )
    right = answer.choice == question.correct
    key = question.choices[int(question.correct)]
    # English for the teacher's logs; a student's page phrases it from `correct` and the key.
    feedback = (f'Correct: "{key}".' if right else
                f'Not quite: chose "{chosen}"; the answer is "{key}".')
    return Evaluation(
        answer_id=answer.id, question_id=question.id, user_id=answer.user_id, correct=right,
        score=1.0 if right else 0.0, feedback=feedback, evaluator="exact-match",
        evaluated_at_ms=now_ms,
    )


def summary(
    question: Question, answers: list[Answer], evaluations: list[Evaluation]
) -> dict[str, Any]:
    """What the teacher sees when a question closes: counts per choice and right/wrong."""
    by_choice = [0] * len(question.choices)
    for answer in answers:
        if answer.choice is not None and 0 <= answer.choice < len(by_choice):
            by_choice[answer.choice] += 1
    judged = [e for e in evaluations if e.correct is not None]
    return {
        "question_id": question.id,
        "answers": len(answers),
        "by_choice": by_choice,
        "correct": sum(1 for e in judged if e.correct),
        "incorrect": sum(1 for e in judged if not e.correct),
        "evaluated": len(evaluations),
        "mean_score": round(sum(e.score for e in evaluations) / len(evaluations), 3)
        if evaluations else None,
    }
