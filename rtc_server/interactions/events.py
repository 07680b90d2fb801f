"""Stream event types of live interactions, and the payloads that need building.

==================== ============== ==================================================
type                 audience       payload
==================== ============== ==================================================
question.opened      session        ``question`` (without ``correct``)
question.closed      session        ``question_id, reason ("time"|"teacher"), by, closed_at_ms``
question.summary     group teacher  ``question_id, answers, by_choice, correct, incorrect,
                                    evaluated, mean_score``
answer.received      group teacher  ``answer_id, question_id, user, name, choice, text,
                                    submitted_at_ms``
answer.evaluated     group teacher  ``answer_id, question_id, user_id, name, correct, score,
                                    feedback, suggested_feedback, evaluator, details``
hints.ready          group teacher  ``question_id, hints`` (least to most revealing)
hint                 user           ``question_id, text, level, from {user, name}``
help.queue           group teacher  ``queue`` (whole queue, oldest first), ``change``
                                    (``{"added": request}`` or ``{"resolved": id, "by"}``)
help.resolved        user           ``help_id, by {user, name}``
poll.opened          session        ``poll, tally``
poll.tally           teacher, or    ``poll_id, counts, total, options, final``
                     session when
                     show_results
poll.closed          session        ``poll_id, closed_at_ms, by, tally`` (tally only when
                                    show_results; the teacher then gets a final poll.tally)
board.op             session        ``board_seq, op, by, client_id, ts_ms``
board.permit         session        ``students, by``
==================== ============== ==================================================
"""

from __future__ import annotations

from typing import Any

from rtc_server.base.protocol import EventCatalogue, EventType

from .questions import Answer
from .store import BoardEntry

__all__ = [
    "ANSWER_EVALUATED",
    "ANSWER_RESULT",
    "ANSWER_RECEIVED",
    "BOARD_OP",
    "BOARD_PERMIT",
    "INTERACTION_EVENTS",
    "HELP_QUEUE",
    "HELP_REQUESTED",
    "HELP_RESOLVED",
    "HINT",
    "HINTS_READY",
    "POLL_CLOSED",
    "POLL_OPENED",
    "POLL_TALLY",
    "POLL_VOTE",
    "QUESTION_CLOSED",
    "QUESTION_OPENED",
    "QUESTION_SUMMARY",
    "answer_payload",
    "board_payload",
]

QUESTION_OPENED = EventType("question.opened", "session",
                            "a question is open (without the correct answer)")
QUESTION_CLOSED = EventType("question.closed", "session", "a question closed (time or teacher)")
QUESTION_SUMMARY = EventType("question.summary", "group teacher",
                             "counts and scores of a closed question")
ANSWER_RECEIVED = EventType("answer.received", "group teacher", "a student's answer arrived")
ANSWER_EVALUATED = EventType("answer.evaluated", "group teacher", "an answer was evaluated")
ANSWER_RESULT = EventType("answer.result", "user",
                          "the teacher showed a student whether their answer was right")
HINTS_READY = EventType("hints.ready", "group teacher", "prepared hints of a question")
HINT = EventType("hint", "user", "a hint for one student")
HELP_QUEUE = EventType("help.queue", "group teacher", "the help queue changed")
HELP_RESOLVED = EventType("help.resolved", "user", "the teacher resolved your help request")
POLL_OPENED = EventType("poll.opened", "session", "a poll is open")
POLL_TALLY = EventType("poll.tally", "group teacher or session", "a poll's counts")
POLL_CLOSED = EventType("poll.closed", "session", "a poll closed")
BOARD_OP = EventType("board.op", "session", "one operation on the shared board")
BOARD_PERMIT = EventType("board.permit", "session", "students may (not) draw on the board")
# History-only kinds (not events).
HELP_REQUESTED = "help.requested"
POLL_VOTE = "poll.vote"

INTERACTION_EVENTS = EventCatalogue("interactions", (
    QUESTION_OPENED, QUESTION_CLOSED, QUESTION_SUMMARY, ANSWER_RECEIVED, ANSWER_EVALUATED,
    ANSWER_RESULT, HINTS_READY, HINT, HELP_QUEUE, HELP_RESOLVED, POLL_OPENED, POLL_TALLY,
    POLL_CLOSED, BOARD_OP, BOARD_PERMIT,
))


def answer_payload(answer: Answer) -> dict[str, Any]:
    return {"answer_id": answer.id, "question_id": answer.question_id, "user": answer.user_id,
            "name": answer.name, "choice": answer.choice, "text": answer.text,
            "submitted_at_ms": answer.submitted_at_ms}


def board_payload(entry: BoardEntry) -> dict[str, Any]:
    return {"board_seq": entry.seq, "op": entry.op, "by": entry.by,
            "client_id": entry.client_id, "ts_ms": entry.ts_ms}
