"""Client messages of live interactions: typed models with a literal ``type``.

Validated at the boundary by the dispatcher's registry. ``answer.submit``,
``poll.vote`` and ``board.op`` require the client message ``id``: it is how
a resent message is recognised (same user, same id: stored once). The board
op itself is an object validated by :func:`~.board.parse_op`, so that its
errors name the op field (``op.item.x``) with the code ``invalid_board_op``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from rtc_server.base.messages import ClientMessageBase, MessageId, Name, Target

from .help import MAX_HELP_TEXT
from .hints import MAX_HINT_CHARS, MAX_HINTS
from .polls import MAX_OPTIONS
from .questions import MAX_CHOICES, MAX_TIME_LIMIT_S

__all__ = [
    "MESSAGES",
    "AnswerSubmit",
    "BoardOpMessage",
    "BoardPermit",
    "BoardSync",
    "HelpRequestMessage",
    "HelpResolve",
    "HintSend",
    "InteractionsSync",
    "PollClose",
    "PollStart",
    "PollVote",
    "QuestionAsk",
    "QuestionClose",
    "QuestionReveal",
]

ItemId = Annotated[str, Field(min_length=1, max_length=64)]
Choice = Annotated[str, Field(min_length=1, max_length=200)]
HintText = Annotated[str, Field(min_length=1, max_length=MAX_HINT_CHARS)]


class QuestionAsk(ClientMessageBase):
    """Staff: put a question to the class (``correct``: choice index, or reference text).

    ``hints``: the teacher's own prepared hints, least to most revealing; when given, the
    server prepares none."""

    type: Literal["question.ask"]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    kind: Literal["choice", "free"] = "choice"
    choices: list[Choice] = Field(default_factory=list, max_length=MAX_CHOICES)
    correct: int | Annotated[str, Field(max_length=2000)] | None = None
    time_limit_s: Annotated[int, Field(ge=1, le=MAX_TIME_LIMIT_S)] | None = None
    auto_hint: bool = False
    hints: list[HintText] | None = Field(default=None, max_length=MAX_HINTS)
    # The class (default) or one breakout group: {"group": "g1"}.
    to: Target | None = None


class QuestionReveal(ClientMessageBase):
    """Staff: tell each student who answered a closed question whether they were right."""

    type: Literal["question.reveal"]
    question_id: ItemId


class QuestionClose(ClientMessageBase):
    type: Literal["question.close"]
    question_id: ItemId


class AnswerSubmit(ClientMessageBase):
    """Students: ``choice`` (index) for choice questions, ``text`` for free ones."""

    type: Literal["answer.submit"]
    id: MessageId
    question_id: ItemId
    choice: int | None = None
    text: Annotated[str, Field(max_length=4000)] | None = None


class HintSend(ClientMessageBase):
    """Staff: a hint to one student: ``text``, or a prepared hint of ``question_id``."""

    type: Literal["hint.send"]
    user: Name
    question_id: ItemId | None = None
    text: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    level: Annotated[int, Field(ge=0)] | None = None


class HelpRequestMessage(ClientMessageBase):
    """Students: raise a hand (``kind: hand``) or ask for help with ``text``."""

    type: Literal["help.request"]
    kind: Literal["hand", "help"] = "help"
    text: Annotated[str, Field(max_length=MAX_HELP_TEXT)] = ""
    question_id: ItemId | None = None


class HelpResolve(ClientMessageBase):
    type: Literal["help.resolve"]
    help_id: ItemId


class PollStart(ClientMessageBase):
    type: Literal["poll.start"]
    question: Annotated[str, Field(min_length=1, max_length=1000)]
    options: list[Choice] = Field(max_length=MAX_OPTIONS)
    show_results: bool = False


class PollVote(ClientMessageBase):
    type: Literal["poll.vote"]
    id: MessageId
    poll_id: ItemId
    option: int


class PollClose(ClientMessageBase):
    type: Literal["poll.close"]
    poll_id: ItemId


class BoardOpMessage(ClientMessageBase):
    type: Literal["board.op"]
    id: MessageId
    op: Any


class BoardSync(ClientMessageBase):
    type: Literal["board.sync"]


class BoardPermit(ClientMessageBase):
    """Staff: let students draw on the board (or stop them)."""

    type: Literal["board.permit"]
    students: bool


class InteractionsSync(ClientMessageBase):
    """Anyone: the current interactions as this user may see them (after a reconnect)."""

    type: Literal["interactions.sync"]


MESSAGES: tuple[type[ClientMessageBase], ...] = (
    QuestionAsk, QuestionClose, QuestionReveal, AnswerSubmit, HintSend, HelpRequestMessage,
    HelpResolve,
    PollStart, PollVote, PollClose, BoardOpMessage, BoardSync, BoardPermit, InteractionsSync,
)
