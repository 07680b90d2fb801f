"""Showing students their results: ``question.reveal`` (staff) after a question closed.

Each student who answered gets one ``answer.result`` event, to them alone::

    {question_id, answer_id, correct (true/false/null), score, feedback, feedback_kind,
     correct_choice (choice questions with a key) | reference (free questions with one),
     matched, missing (feedback_kind "keywords")}

``feedback`` is the evaluator's sentence in English. ``feedback_kind`` says what it
carries, so that a page in another language can say the same in its own words
instead of showing English: ``key`` (an exact match against the answer key — it
only restates ``correct`` and ``correct_choice``), ``keywords`` (keyword overlap
with the reference — ``matched`` and ``missing`` hold the keywords), ``text``
(prose from a model, to show as is) or ``none`` (not evaluated yet).

Until then a student sees only the receipt; the evaluation goes to the teachers
(``answer.evaluated``) as it is made. A student whose answer is not evaluated
yet gets ``correct: null`` and the feedback that the teacher will look at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtc_server.base.access import require_staff
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import Audience

from . import events as ev
from .exceptions import InvalidRequest, NotFound
from .questions import Evaluation

if TYPE_CHECKING:
    from .service import Interactions

__all__ = ["feedback_fields", "reveal_results"]

# Evaluators whose feedback is a fixed English template over structured fields.
_TEMPLATED = {"exact-match": "key", "keyword-overlap": "keywords"}


def feedback_fields(evaluation: Evaluation | None) -> dict[str, Any]:
    """``feedback`` with the structure a page needs to phrase it in its own language."""
    if evaluation is None:
        return {"feedback": "", "feedback_kind": "none"}
    kind = _TEMPLATED.get(evaluation.evaluator, "text")
    out: dict[str, Any] = {"feedback": evaluation.feedback, "feedback_kind": kind}
    if kind == "keywords":
        out["matched"] = list(evaluation.details.get("matched", []))
        out["missing"] = list(evaluation.details.get("missing", []))
    return out


async def reveal_results(ix: Interactions, who: Identity, question_id: str) -> int:
    """Tell every student who answered ``question_id`` their result; how many were told."""
    require_staff(who, "show students their results")
    sid = who.session_id
    question = await ix.store.get_question(sid, question_id)
    if question is None:
        raise NotFound(f"no question {question_id!r} in this session")
    if question.is_open:
        raise InvalidRequest("close the question before showing the answers")
    key: dict[str, Any] = {}
    if question.kind == "choice" and isinstance(question.correct, int):
        key["correct_choice"] = question.correct
    elif question.kind == "free" and isinstance(question.correct, str):
        key["reference"] = question.correct
    evaluations = {e.answer_id: e for e in await ix.store.evaluations(sid, question_id)}
    answers = await ix.store.answers(sid, question_id)
    for answer in answers:
        evaluation = evaluations.get(answer.id)
        payload = {"question_id": question_id, "answer_id": answer.id,
                   "correct": evaluation.correct if evaluation else None,
                   "score": evaluation.score if evaluation else None,
                   **feedback_fields(evaluation), **key}
        await ix.classroom.publish(sid, Audience.user(answer.user_id), ev.ANSWER_RESULT,
                                   payload)
    return len(answers)
