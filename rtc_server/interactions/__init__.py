"""Live classroom interactions: questions and answers, hints, help, polls and a shared board.

The pure rules live in :mod:`.questions`, :mod:`.polls`, :mod:`.board` and
:mod:`.help`; state in an :class:`InteractionStore` (memory or Redis); the
domain API is :class:`Interactions`; :class:`~.feature.InteractionsFeature`
plugs it into the core (``build`` is in the app's feature list). Event types
are listed in :mod:`.events`, replies in :mod:`.handlers`.
"""

from .board import BoardState, apply, check_applicable, parse_op
from .evaluator import Evaluator, LocalEvaluator, TextProviderEvaluator
from .exceptions import AlreadyAnswered, InvalidBoardOp, NotFound, PollClosed, QuestionClosed
from .feature import InteractionsFeature, build
from .help import HelpRequest
from .hints import HintProvider, LocalHintProvider, TextProviderHintProvider
from .messages import MESSAGES
from .polls import Poll, tally
from .questions import Answer, Evaluation, Question
from .redis_store import RedisInteractionStore
from .service import Interactions
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
    "InteractionsFeature",
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
    "build",
    "parse_op",
    "tally",
]
