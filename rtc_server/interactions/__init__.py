"""Live classroom interactions: questions and answers, hints, help, polls and a shared board.

The pure rules live in :mod:`.questions`, :mod:`.polls`, :mod:`.board` and
:mod:`.help`; state in an :class:`InteractionStore` (memory or Redis); the
domain API is :class:`Interactions`; :func:`install` wires it into a
dispatcher. Event types are listed in :mod:`.events`, replies in
:mod:`.handlers`.
"""

from .board import BoardState, apply, check_applicable, parse_op
from .evaluator import Evaluator, LocalEvaluator, TextProviderEvaluator
from .exceptions import AlreadyAnswered, InvalidBoardOp, NotFound, PollClosed, QuestionClosed
from .help import HelpRequest
from .hints import HintProvider, LocalHintProvider, TextProviderHintProvider
from .messages import MESSAGES
from .polls import Poll, tally
from .questions import Answer, Evaluation, Question
from .redis_store import RedisInteractionStore
from .service import Interactions
from .setup import install, install_interactions, make_store
from .store import BoardEntry, InteractionStore, MemoryInteractionStore, SubmitResult, VoteResult

__all__ = [
    "MESSAGES",
    "AlreadyAnswered",
    "Answer",
    "BoardEntry",
    "BoardState",
    "Evaluation",
    "Evaluator",
    "HelpRequest",
    "HintProvider",
    "InteractionStore",
    "Interactions",
    "InvalidBoardOp",
    "LocalEvaluator",
    "LocalHintProvider",
    "MemoryInteractionStore",
    "NotFound",
    "Poll",
    "PollClosed",
    "Question",
    "QuestionClosed",
    "RedisInteractionStore",
    "SubmitResult",
    "TextProviderEvaluator",
    "TextProviderHintProvider",
    "VoteResult",
    "apply",
    "check_applicable",
    "install",
    "install_interactions",
    "make_store",
    "parse_op",
    "tally",
]
