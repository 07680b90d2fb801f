"""Interaction state behind one small interface, in memory or in Redis.

Callers never know which implementation they have. Every mutating call is
atomic with respect to other callers, including other server processes (the
Redis store uses Lua scripts): one answer per student per question, votes
only while the poll is open, one board seq per op, and no answer after the
question closed or its time ran out. State expires ``INTERACTION_TTL_S``
after the session's last interaction.
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Literal

from .exceptions import InvalidRequest
from .help import HelpRequest
from .polls import Poll
from .questions import Answer, Evaluation, Question

__all__ = [
    "BOARD_MAX_OPS",
    "INTERACTION_TTL_S",
    "BoardEntry",
    "InteractionStore",
    "MemoryInteractionStore",
    "SubmitResult",
    "VoteResult",
]

INTERACTION_TTL_S = 24 * 3600
BOARD_MAX_OPS = 20_000

SubmitStatus = Literal["stored", "duplicate", "closed", "late", "unknown"]
VoteStatus = Literal["ok", "closed", "unknown"]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """``stored``: ``answer`` is the new one; ``duplicate``: ``answer`` is the student's first."""

    status: SubmitStatus
    answer: Answer | None = None


@dataclass(frozen=True, slots=True)
class VoteResult:
    status: VoteStatus
    previous: int | None = None


@dataclass(frozen=True, slots=True)
class BoardEntry:
    seq: int
    by: str
    client_id: str
    ts_ms: int
    op: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "by": self.by, "client_id": self.client_id,
                "ts_ms": self.ts_ms, "op": self.op}


def board_full_error(max_ops: int) -> InvalidRequest:
    return InvalidRequest(f"the board is full: it holds at most {max_ops} operations")


class InteractionStore(ABC):
    # -- questions and answers -----------------------------------------------------------------

    @abstractmethod
    async def add_question(self, session_id: str, question: Question) -> None: ...

    @abstractmethod
    async def get_question(self, session_id: str, question_id: str) -> Question | None: ...

    @abstractmethod
    async def questions(self, session_id: str) -> list[Question]:
        """All questions of the session, oldest first."""

    @abstractmethod
    async def close_question(
        self, session_id: str, question_id: str, *, reason: str, now_ms: int
    ) -> Question | None:
        """Close an open question; None if it is unknown or already closed (one closer wins)."""

    @abstractmethod
    async def submit_answer(self, session_id: str, answer: Answer, *, now_ms: int) -> SubmitResult:
        """Store the student's only answer unless the question is closed, late or answered."""

    @abstractmethod
    async def answers(self, session_id: str, question_id: str) -> list[Answer]: ...

    @abstractmethod
    async def answers_of(self, session_id: str, user_id: str) -> list[Answer]: ...

    @abstractmethod
    async def put_evaluation(self, session_id: str, evaluation: Evaluation) -> None: ...

    @abstractmethod
    async def evaluations(self, session_id: str, question_id: str) -> list[Evaluation]: ...

    @abstractmethod
    async def put_hints(self, session_id: str, question_id: str, hints: list[str]) -> None: ...

    @abstractmethod
    async def get_hints(self, session_id: str, question_id: str) -> list[str] | None: ...

    # -- help ----------------------------------------------------------------------------------

    @abstractmethod
    async def add_help(self, session_id: str, request: HelpRequest) -> tuple[HelpRequest, bool]:
        """Queue ``request`` unless the user has an open one: ``(open request, added?)``."""

    @abstractmethod
    async def resolve_help(self, session_id: str, help_id: str) -> HelpRequest | None:
        """Remove a request from the queue; None if it is not (or no longer) there."""

    @abstractmethod
    async def help_queue(self, session_id: str) -> list[HelpRequest]: ...

    # -- polls ---------------------------------------------------------------------------------

    @abstractmethod
    async def add_poll(self, session_id: str, poll: Poll) -> None: ...

    @abstractmethod
    async def get_poll(self, session_id: str, poll_id: str) -> Poll | None: ...

    @abstractmethod
    async def polls(self, session_id: str) -> list[Poll]: ...

    @abstractmethod
    async def vote(self, session_id: str, poll_id: str, user_id: str, option: int) -> VoteResult:
        """Set (or change) the user's vote while the poll is open."""

    @abstractmethod
    async def votes(self, session_id: str, poll_id: str) -> dict[str, int]: ...

    @abstractmethod
    async def votes_by_poll(self, session_id: str) -> dict[str, dict[str, int]]:
        """Every poll's votes in one read (snapshots: one round trip, not one per poll)."""

    @abstractmethod
    async def close_poll(self, session_id: str, poll_id: str, *, now_ms: int) -> Poll | None:
        """Close an open poll; None if unknown or already closed."""

    # -- board ---------------------------------------------------------------------------------

    @abstractmethod
    async def append_board_op(
        self, session_id: str, *, by: str, client_id: str, op: dict[str, Any], now_ms: int,
        max_ops: int = BOARD_MAX_OPS,
    ) -> tuple[BoardEntry, bool]:
        """Give ``op`` the next board seq: ``(entry, True)``; a resend of ``(by, client_id)``
        returns the first entry and False. Raises InvalidRequest when the board is full."""

    @abstractmethod
    async def board_ops(self, session_id: str, after_seq: int = 0) -> list[BoardEntry]:
        """Ops with ``seq > after_seq``, in seq order."""

    @abstractmethod
    async def set_board_students(self, session_id: str, allowed: bool) -> None: ...

    @abstractmethod
    async def board_students(self, session_id: str) -> bool: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@dataclass
class _Session:
    questions: dict[str, Question]
    answers: dict[tuple[str, str], Answer]
    evaluations: dict[str, Evaluation]
    hints: dict[str, list[str]]
    help: dict[str, HelpRequest]
    polls: dict[str, Poll]
    votes: dict[str, dict[str, int]]
    board: list[BoardEntry]
    board_ids: dict[tuple[str, str], int]
    board_students: bool = False
    touched_s: float = 0.0


class MemoryInteractionStore(InteractionStore):
    """The embedded store: one process, no awaits inside an operation, so each is atomic."""

    def __init__(self, *, ttl_s: float = INTERACTION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, _Session] = {}

    def _s(self, session_id: str) -> _Session:
        now = time.monotonic()
        for sid, old in list(self._sessions.items()):
            if now - old.touched_s > self.ttl_s:
                del self._sessions[sid]
        found = self._sessions.get(session_id)
        if found is None:
            found = self._sessions[session_id] = _Session({}, {}, {}, {}, {}, {}, {}, [], {})
        found.touched_s = now
        return found

    async def add_question(self, session_id: str, question: Question) -> None:
        self._s(session_id).questions[question.id] = question

    async def get_question(self, session_id: str, question_id: str) -> Question | None:
        return self._s(session_id).questions.get(question_id)

    async def questions(self, session_id: str) -> list[Question]:
        return list(self._s(session_id).questions.values())

    async def close_question(
        self, session_id: str, question_id: str, *, reason: str, now_ms: int
    ) -> Question | None:
        state = self._s(session_id)
        question = state.questions.get(question_id)
        if question is None or not question.is_open:
            return None
        closed = replace(question, status="closed", closed_at_ms=now_ms, close_reason=reason)
        state.questions[question_id] = closed
        return closed

    async def submit_answer(self, session_id: str, answer: Answer, *, now_ms: int) -> SubmitResult:
        state = self._s(session_id)
        question = state.questions.get(answer.question_id)
        if question is None:
            return SubmitResult("unknown")
        first = state.answers.get((answer.question_id, answer.user_id))
        if first is not None:
            return SubmitResult("duplicate", first)
        if not question.is_open:
            return SubmitResult("closed")
        if question.closes_at_ms is not None and now_ms > question.closes_at_ms:
            return SubmitResult("late")
        state.answers[(answer.question_id, answer.user_id)] = answer
        return SubmitResult("stored", answer)

    async def answers(self, session_id: str, question_id: str) -> list[Answer]:
        return [a for (q, _), a in self._s(session_id).answers.items() if q == question_id]

    async def answers_of(self, session_id: str, user_id: str) -> list[Answer]:
        return [a for (_, u), a in self._s(session_id).answers.items() if u == user_id]

    async def put_evaluation(self, session_id: str, evaluation: Evaluation) -> None:
        self._s(session_id).evaluations[evaluation.answer_id] = evaluation

    async def evaluations(self, session_id: str, question_id: str) -> list[Evaluation]:
        return [e for e in self._s(session_id).evaluations.values()
                if e.question_id == question_id]

    async def put_hints(self, session_id: str, question_id: str, hints: list[str]) -> None:
        self._s(session_id).hints[question_id] = list(hints)

    async def get_hints(self, session_id: str, question_id: str) -> list[str] | None:
        hints = self._s(session_id).hints.get(question_id)
        return list(hints) if hints is not None else None

    async def add_help(self, session_id: str, request: HelpRequest) -> tuple[HelpRequest, bool]:
        state = self._s(session_id)
        for existing in state.help.values():
            if existing.user_id == request.user_id:
                return existing, False
        state.help[request.id] = request
        return request, True

    async def resolve_help(self, session_id: str, help_id: str) -> HelpRequest | None:
        return self._s(session_id).help.pop(help_id, None)

    async def help_queue(self, session_id: str) -> list[HelpRequest]:
        return list(self._s(session_id).help.values())

    async def add_poll(self, session_id: str, poll: Poll) -> None:
        state = self._s(session_id)
        state.polls[poll.id] = poll
        state.votes[poll.id] = {}

    async def get_poll(self, session_id: str, poll_id: str) -> Poll | None:
        return self._s(session_id).polls.get(poll_id)

    async def polls(self, session_id: str) -> list[Poll]:
        return list(self._s(session_id).polls.values())

    async def vote(self, session_id: str, poll_id: str, user_id: str, option: int) -> VoteResult:
        state = self._s(session_id)
        poll = state.polls.get(poll_id)
        if poll is None:
            return VoteResult("unknown")
        if not poll.is_open:
            return VoteResult("closed")
        previous = state.votes[poll_id].get(user_id)
        state.votes[poll_id][user_id] = option
        return VoteResult("ok", previous)

    async def votes(self, session_id: str, poll_id: str) -> dict[str, int]:
        return dict(self._s(session_id).votes.get(poll_id, {}))

    async def votes_by_poll(self, session_id: str) -> dict[str, dict[str, int]]:
        return {pid: dict(votes) for pid, votes in self._s(session_id).votes.items()}

    async def close_poll(self, session_id: str, poll_id: str, *, now_ms: int) -> Poll | None:
        state = self._s(session_id)
        poll = state.polls.get(poll_id)
        if poll is None or not poll.is_open:
            return None
        closed = replace(poll, status="closed", closed_at_ms=now_ms)
        state.polls[poll_id] = closed
        return closed

    async def append_board_op(
        self, session_id: str, *, by: str, client_id: str, op: dict[str, Any], now_ms: int,
        max_ops: int = BOARD_MAX_OPS,
    ) -> tuple[BoardEntry, bool]:
        state = self._s(session_id)
        seen = state.board_ids.get((by, client_id))
        if seen is not None:
            return state.board[seen - 1], False
        if len(state.board) >= max_ops:
            raise board_full_error(max_ops)
        entry = BoardEntry(seq=len(state.board) + 1, by=by, client_id=client_id, ts_ms=now_ms,
                           op=copy.deepcopy(op))
        state.board.append(entry)
        state.board_ids[(by, client_id)] = entry.seq
        return entry, True

    async def board_ops(self, session_id: str, after_seq: int = 0) -> list[BoardEntry]:
        return list(self._s(session_id).board[max(after_seq, 0):])

    async def set_board_students(self, session_id: str, allowed: bool) -> None:
        self._s(session_id).board_students = allowed

    async def board_students(self, session_id: str) -> bool:
        return self._s(session_id).board_students
