"""Domain errors of live interactions; all are classroom errors, so they become ``error`` replies.

    ClassroomError                       (rtc_server.base.exceptions)
    ├── PermissionDenied                 forbidden: the role may not do this
    └── InvalidRequest                   invalid_request
        ├── NotFound                     not_found: no question/poll/help request with that id
        ├── QuestionClosed               question_closed: closed, or its time limit has passed
        ├── AlreadyAnswered              already_answered: one answer per student per question
        ├── PollClosed                   poll_closed
        └── InvalidBoardOp               invalid_board_op: names the offending field
"""

from __future__ import annotations

from rtc_server.base.exceptions import InvalidRequest, PermissionDenied

__all__ = [
    "AlreadyAnswered",
    "InvalidBoardOp",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "PollClosed",
    "QuestionClosed",
]


class NotFound(InvalidRequest):
    code = "not_found"


class QuestionClosed(InvalidRequest):
    code = "question_closed"


class AlreadyAnswered(InvalidRequest):
    """A second answer to the same question; ``answer_id`` is the first answer's id."""

    code = "already_answered"

    def __init__(self, message: str, *, answer_id: str, question_id: str) -> None:
        super().__init__(message)
        self.answer_id = answer_id
        self.question_id = question_id


class PollClosed(InvalidRequest):
    code = "poll_closed"


class InvalidBoardOp(InvalidRequest):
    """A malformed board operation; ``field`` is the dotted path of what was wrong."""

    code = "invalid_board_op"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"board op field {field!r}: {problem}")
        self.field = field
