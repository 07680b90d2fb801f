"""Message handlers: validated interaction messages in, the domain API, replies out.

Replies (``seq: null``, ``re`` = the message id):

==================== ==================== ===============================================
message              reply type           payload
==================== ==================== ===============================================
question.ask         ack                  ``id, question`` (with ``correct``)
question.close       ack                  ``id, question_id``
question.reveal      ack                  ``id, question_id, students`` (how many were told)
answer.submit        answer.receipt       ``answer_id, question_id, submitted_at_ms,
                                          duplicate``
hint.send            ack                  ``id, user, question_id, level, text, seq``
help.request         ack                  ``id, help_id, added``
help.resolve         ack                  ``id, help_id``
poll.start           ack                  ``id, poll``
poll.vote            ack                  ``id, poll_id, option, previous, changed``
poll.close           ack                  ``id, poll_id, counts, total, options``
board.op             ack                  ``id, board_seq, duplicate``
board.sync           board.snapshot       ``seq, items, students_allowed``
board.permit         ack                  ``id, students``
interactions.sync    interactions.snapshot see :meth:`Interactions.snapshot`
==================== ==================== ===============================================

A second, different answer is refused with the ``error`` ``already_answered``
whose message names the first answer's id. Resends: the dispatcher answers a
message id it has already handled with ``ack {id, duplicate: true}``; behind
it the store deduplicates too (one answer per student and question; board ops
by user and client id), so a resend that reaches the service (another
process, an expired claim) is not stored twice either.
"""

from __future__ import annotations

from typing import Any

from rtc_server.core.connection import Connection
from rtc_server.core.feature import Route

from .exceptions import InvalidRequest
from .messages import (
    AnswerSubmit,
    BoardOpMessage,
    BoardPermit,
    BoardSync,
    HelpRequestMessage,
    HelpResolve,
    HintSend,
    InteractionsSync,
    PollClose,
    PollStart,
    PollVote,
    QuestionAsk,
    QuestionClose,
    QuestionReveal,
)
from .reveal import reveal_results
from .service import Interactions

__all__ = ["routes"]


def routes(interactions: Interactions) -> tuple[Route[Any], ...]:
    """Every interaction message with its handler."""
    ix = interactions

    async def question_ask(conn: Connection, msg: QuestionAsk, via: str) -> dict[str, Any]:
        question = await ix.ask_question(
            conn.identity, text=msg.text, kind=msg.kind, choices=list(msg.choices),
            correct=msg.correct, time_limit_s=msg.time_limit_s, auto_hint=msg.auto_hint,
            group=_group_of(msg), hints=msg.hints)
        return {"type": "ack", "id": msg.id, "question": question.to_json(full=True)}

    async def question_reveal(conn: Connection, msg: QuestionReveal, via: str
                              ) -> dict[str, Any]:
        told = await reveal_results(ix, conn.identity, msg.question_id)
        return {"type": "ack", "id": msg.id, "question_id": msg.question_id, "students": told}

    async def question_close(conn: Connection, msg: QuestionClose, via: str) -> dict[str, Any]:
        await ix.close_question(conn.identity, msg.question_id)
        return {"type": "ack", "id": msg.id, "question_id": msg.question_id}

    async def answer_submit(conn: Connection, msg: AnswerSubmit, via: str) -> dict[str, Any]:
        answer, duplicate = await ix.submit_answer(
            conn.identity, question_id=msg.question_id, choice=msg.choice, text=msg.text,
            client_id=msg.id)
        return {"type": "answer.receipt", "answer_id": answer.id,
                "question_id": answer.question_id, "submitted_at_ms": answer.submitted_at_ms,
                "duplicate": duplicate}

    async def hint_send(conn: Connection, msg: HintSend, via: str) -> dict[str, Any]:
        sent = await ix.send_hint(conn.identity, user_id=msg.user, question_id=msg.question_id,
                                  text=msg.text, level=msg.level)
        return {"type": "ack", "id": msg.id, **sent}

    async def help_request(
        conn: Connection, msg: HelpRequestMessage, via: str
    ) -> dict[str, Any]:
        request, added = await ix.request_help(conn.identity, kind=msg.kind, text=msg.text,
                                               question_id=msg.question_id)
        return {"type": "ack", "id": msg.id, "help_id": request.id, "added": added}

    async def help_resolve(conn: Connection, msg: HelpResolve, via: str) -> dict[str, Any]:
        await ix.resolve_help(conn.identity, msg.help_id)
        return {"type": "ack", "id": msg.id, "help_id": msg.help_id}

    async def poll_start(conn: Connection, msg: PollStart, via: str) -> dict[str, Any]:
        poll = await ix.start_poll(conn.identity, question=msg.question,
                                   options=list(msg.options), show_results=msg.show_results)
        return {"type": "ack", "id": msg.id, "poll": poll.to_json()}

    async def poll_vote(conn: Connection, msg: PollVote, via: str) -> dict[str, Any]:
        result = await ix.vote(conn.identity, poll_id=msg.poll_id, option=msg.option)
        return {"type": "ack", "id": msg.id, **result}

    async def poll_close(conn: Connection, msg: PollClose, via: str) -> dict[str, Any]:
        counts = await ix.close_poll(conn.identity, msg.poll_id)
        return {"type": "ack", "id": msg.id, **counts}

    async def board_op(conn: Connection, msg: BoardOpMessage, via: str) -> dict[str, Any]:
        entry, fresh = await ix.board_op(conn.identity, op=msg.op, client_id=msg.id)
        return {"type": "ack", "id": msg.id, "board_seq": entry.seq, "duplicate": not fresh}

    async def board_sync(conn: Connection, msg: BoardSync, via: str) -> dict[str, Any]:
        return {"type": "board.snapshot", **await ix.board_snapshot(conn.identity)}

    async def board_permit(conn: Connection, msg: BoardPermit, via: str) -> dict[str, Any]:
        await ix.permit_board(conn.identity, msg.students)
        return {"type": "ack", "id": msg.id, "students": msg.students}

    async def interactions_sync(
        conn: Connection, msg: InteractionsSync, via: str
    ) -> dict[str, Any]:
        return {"type": "interactions.snapshot", **await ix.snapshot(conn.identity)}

    return (
        Route(QuestionAsk, question_ask), Route(QuestionClose, question_close),
        Route(QuestionReveal, question_reveal),
        Route(AnswerSubmit, answer_submit), Route(HintSend, hint_send),
        Route(HelpRequestMessage, help_request), Route(HelpResolve, help_resolve),
        Route(PollStart, poll_start), Route(PollVote, poll_vote), Route(PollClose, poll_close),
        Route(BoardOpMessage, board_op), Route(BoardSync, board_sync),
        Route(BoardPermit, board_permit), Route(InteractionsSync, interactions_sync),
    )


def _group_of(msg: QuestionAsk) -> str | None:
    """The breakout group a question is for; a single user is not an audience here."""
    if msg.to is None or msg.to.session:
        return None
    if msg.to.group is None:
        raise InvalidRequest("field 'to': a question goes to the class or to one group")
    return msg.to.group
