"""Live interactions of a class: questions, answers, hints, help, polls and the board.

:class:`Interactions` is the domain API the message handlers call. It checks
roles on the server, changes state through an
:class:`~.store.InteractionStore`, publishes stream events through
``classroom.publish`` and appends every interaction to the session's
interaction history. Slow work (evaluating an answer, preparing hints,
closing a question when its time is up) runs in tasks it owns and cancels
in :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from rtc_server.base.access import require_board_writer, require_staff, require_student
from rtc_server.base.background import BackgroundTasks
from rtc_server.base.exceptions import PermissionDenied, SessionNotFound
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import Audience, EventType, now_ms
from rtc_server.core.classroom import Classroom
from rtc_server.core.feature import AnswerEvaluated
from rtc_server.core.teaching_aid import TEACHING_AID

from . import events as ev
from .board import parse_op
from .evaluator import Evaluator, LocalEvaluator
from .exceptions import (
    AlreadyAnswered,
    InvalidRequest,
    NotFound,
    PollClosed,
    QuestionClosed,
)
from .help import HelpKind, HelpRequest, new_help_request, queue_json
from .hints import HintProvider, LocalHintProvider, teacher_hints
from .polls import MAX_OPEN_POLLS, Poll, check_vote, new_poll, tally
from .questions import (
    MAX_OPEN_QUESTIONS,
    Answer,
    Evaluation,
    Question,
    QuestionKind,
    check_answer_shape,
    check_open,
    new_question,
)
from .questions import (
    summary as question_summary,
)
from .shared_board import SharedBoard
from .snapshot import build_snapshot
from .store import BOARD_MAX_OPS, BoardEntry, InteractionStore

__all__ = ["Clock", "Interactions"]

logger = logging.getLogger(__name__)
Clock = Callable[[], int]
TEACHERS = Audience.teachers()


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Interactions:
    def __init__(
        self, classroom: Classroom, store: InteractionStore, *,
        evaluator: Evaluator | None = None, hint_provider: HintProvider | None = None,
        clock: Clock = now_ms, board_max_ops: int = BOARD_MAX_OPS, owns_store: bool = False,
    ) -> None:
        self.classroom = classroom
        self.store = store
        self.evaluator: Evaluator = evaluator or LocalEvaluator()
        self.hint_provider: HintProvider = hint_provider or LocalHintProvider()
        self.clock = clock
        self._owns_store = owns_store
        self.board = SharedBoard(store, max_ops=board_max_ops)
        self._tasks = BackgroundTasks("Interactions")
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Which hint level each student got last (process-local: a teacher's "next hint").
        self._hint_levels: dict[tuple[str, str, str], int] = {}
        # Each evaluation is told to the other features through the core (the content
        # feature notices a class going wrong).
        self._features = classroom.features

    # -- plumbing ------------------------------------------------------------------------------

    async def _publish(
        self, session_id: str, audience: Audience, type: EventType, payload: dict[str, Any]
    ) -> int:
        return (await self.classroom.publish(session_id, audience, type, payload)).seq

    async def _publish_to(
        self, session_id: str, question: Question, type: EventType, payload: dict[str, Any]
    ) -> None:
        """To the question's audience: the class, or its group and the teachers."""
        if question.group is None:
            await self._publish(session_id, Audience.session(), type, payload)
            return
        await self._publish(session_id, Audience.group(question.group), type, payload)
        await self._publish(session_id, TEACHERS, type, payload)

    async def groups_of(self, who: Identity) -> set[str]:
        """The named groups ``who`` is in (the room's view; the record without a room)."""
        room = self.classroom.rooms.get(who.session_id)
        if room is not None:
            return set(room.groups_of(who.user_id, who.role))
        record = await self.classroom.get_session(who.session_id, history=False)
        return {g for g, members in record.groups.items() if who.user_id in members}

    async def _history(self, session_id: str, kind: str | EventType, **fields: Any) -> None:
        entry = {"kind": str(kind), "ts_ms": self.clock(), **fields}
        try:
            await self.classroom.store.append_history(session_id, "interaction", entry)
        except SessionNotFound:
            logger.info("Interactions(%s) no session for history %s", session_id, kind)

    async def _active(self, who: Identity) -> None:
        await self.classroom.require_active(who.session_id)

    # -- questions -----------------------------------------------------------------------------

    async def ask_question(
        self, who: Identity, *, text: str, kind: QuestionKind, choices: list[str],
        correct: int | str | None, time_limit_s: int | None, auto_hint: bool = False,
        group: str | None = None, hints: list[str] | None = None,
    ) -> Question:
        """Open a question for the class, or for one breakout ``group`` (and the teachers).

        ``hints``: the teacher's prepared hints; without them the server prepares some in
        the background."""
        require_staff(who, "ask the class a question")
        await self._active(who)
        sid = who.session_id
        if group is not None and not await self.classroom.group_exists(sid, group):
            raise InvalidRequest(f"group {group!r} has no members; put students in it first")
        open_now = sum(1 for q in await self.store.questions(sid) if q.is_open)
        if open_now >= MAX_OPEN_QUESTIONS:
            raise InvalidRequest(f"{open_now} questions are open (at most {MAX_OPEN_QUESTIONS}):"
                                 " close one first")
        question = new_question(question_id=_new_id("q"), text=text, kind=kind, choices=choices,
                                correct=correct, time_limit_s=time_limit_s, asked_by=who.user_id,
                                now_ms=self.clock(), auto_hint=auto_hint, group=group)
        own_hints = teacher_hints(hints) if hints else None
        await self.store.add_question(sid, question)
        if own_hints:
            # Stored before anyone hears of the question: a wrong answer straight away
            # (auto_hint) or the teacher's first "send hint" finds the teacher's hints.
            await self.store.put_hints(sid, question.id, own_hints)
        if question.closes_at_ms is not None:
            self._arm_timer(sid, question)
        await self._publish_to(sid, question, ev.QUESTION_OPENED,
                               {"question": question.to_json(full=False)})
        await self._history(sid, ev.QUESTION_OPENED, by=who.user_id,
                            question=question.to_json(full=True),
                            **({"hints": own_hints} if own_hints else {}))
        if own_hints:
            await self._publish(sid, TEACHERS, ev.HINTS_READY,
                                {"question_id": question.id, "hints": own_hints})
        else:
            self._tasks.spawn(self._prepare_hints(sid, question), f"hints {question.id}")
        return question

    def _arm_timer(self, session_id: str, question: Question) -> None:
        assert question.closes_at_ms is not None
        delay_s = max(0.0, (question.closes_at_ms - self.clock()) / 1000)
        key = (session_id, question.id)
        task = self._tasks.spawn(self._close_when_due(session_id, question.id, delay_s),
                           f"timer {question.id}")
        self._timers[key] = task
        task.add_done_callback(lambda _t: self._timers.pop(key, None))

    async def _close_when_due(self, session_id: str, question_id: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._close(session_id, question_id, reason="time", by=None)

    async def close_question(self, who: Identity, question_id: str) -> Question:
        require_staff(who, "close a question")
        closed = await self._close(who.session_id, question_id, reason="teacher", by=who.user_id)
        if closed is None:
            question = await self.store.get_question(who.session_id, question_id)
            if question is None:
                raise NotFound(f"no question {question_id!r} in this session")
            raise InvalidRequest(f"question {question_id!r} is already closed")
        return closed

    async def _close(
        self, session_id: str, question_id: str, *, reason: str, by: str | None
    ) -> Question | None:
        closed = await self.store.close_question(session_id, question_id, reason=reason,
                                                 now_ms=self.clock())
        if closed is None:
            return None  # unknown, or another caller (timer, teacher, process) closed it first
        timer = self._timers.pop((session_id, question_id), None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        await self._publish_to(session_id, closed, ev.QUESTION_CLOSED,
                               {"question_id": question_id, "reason": reason, "by": by,
                                "closed_at_ms": closed.closed_at_ms})
        summary = question_summary(closed, await self.store.answers(session_id, question_id),
                                   await self.store.evaluations(session_id, question_id))
        await self._publish(session_id, TEACHERS, ev.QUESTION_SUMMARY, summary)
        await self._history(session_id, ev.QUESTION_CLOSED, question_id=question_id,
                            reason=reason, by=by, summary=summary)
        return closed

    # -- answers -------------------------------------------------------------------------------

    async def submit_answer(
        self, who: Identity, *, question_id: str, choice: int | None, text: str | None,
        client_id: str,
    ) -> tuple[Answer, bool]:
        """Store the student's answer: ``(answer, duplicate)``; evaluation follows as an event."""
        require_student(who, "answer questions")
        await self._active(who)
        sid = who.session_id
        question = await self.store.get_question(sid, question_id)
        if question is None:
            raise NotFound(f"no question {question_id!r} in this session")
        check_answer_shape(question, choice, text)
        if question.group is not None and question.group not in await self.groups_of(who):
            raise PermissionDenied(f"this question is for group {question.group!r}")
        answer = Answer(id=_new_id("a"), question_id=question_id, user_id=who.user_id,
                        name=who.name, choice=choice, text=text.strip() if text else None,
                        client_id=client_id, submitted_at_ms=self.clock())
        result = await self.store.submit_answer(sid, answer, now_ms=answer.submitted_at_ms)
        if result.status == "unknown":
            raise NotFound(f"no question {question_id!r} in this session")
        if result.status in ("closed", "late"):
            latest = await self.store.get_question(sid, question_id) or question
            check_open(latest, answer.submitted_at_ms)  # raises with the reason
            raise QuestionClosed(f"question {question_id!r} takes no more answers")
        if result.status == "duplicate":
            assert result.answer is not None
            first = result.answer
            if first.client_id == client_id:
                return first, True  # the same message again: the same receipt
            raise AlreadyAnswered(
                f"you already answered question {question_id!r} (answer {first.id}); "
                "one answer per question", answer_id=first.id, question_id=question_id)
        await self._publish(sid, TEACHERS, ev.ANSWER_RECEIVED, ev.answer_payload(answer))
        await self._history(sid, ev.ANSWER_RECEIVED, **ev.answer_payload(answer))
        self._tasks.spawn(self._evaluate(sid, question, answer), f"evaluate {answer.id}")
        return answer, False

    async def _evaluate(self, session_id: str, question: Question, answer: Answer) -> None:
        evaluation = await self._grounded_evaluation(session_id, question, answer)
        if evaluation is None:
            evaluation = await self.evaluator.evaluate(question, answer, now_ms=self.clock())
        await self.store.put_evaluation(session_id, evaluation)
        payload = {**evaluation.to_json(), "name": answer.name,
                   "suggested_feedback": evaluation.feedback}
        await self._publish(session_id, TEACHERS, ev.ANSWER_EVALUATED, payload)
        await self._history(session_id, ev.ANSWER_EVALUATED, answer_id=answer.id,
                            question_id=question.id, user=answer.user_id,
                            correct=evaluation.correct, score=evaluation.score,
                            evaluator=evaluation.evaluator)
        await self._features.answer_evaluated(AnswerEvaluated(
            session_id, answer.user_id, bool(evaluation.correct), question.text))
        if question.auto_hint and evaluation.correct is False:
            # The automatic rule: the first prepared hint, sent by the server itself.
            await self.send_hint(Identity.system(session_id, "auto-hint", name="automatic hint"),
                                 user_id=answer.user_id, question_id=question.id,
                                 text=None, level=0)

    # -- hints ---------------------------------------------------------------------------------

    async def _grounded_evaluation(self, session_id: str, question: Question, answer: Answer
                                   ) -> Evaluation | None:
        """A free-text answer judged against the class's material, when a feature can."""
        aid = self._features.service(TEACHING_AID)
        if aid is None or question.kind != "free" or not answer.text:
            return None
        verdict = await aid.evaluate(session_id, question.text, str(question.correct or ""),
                                     answer.text)
        if verdict is None:
            return None
        return Evaluation(answer_id=answer.id, question_id=question.id,
                          user_id=answer.user_id, correct=verdict.correct, score=verdict.score,
                          feedback=verdict.feedback, evaluator=verdict.evaluator,
                          evaluated_at_ms=self.clock())

    async def _make_hints(self, session_id: str, question: Question) -> list[str]:
        """Hints grounded in the class's material when a feature offers them; else ours."""
        aid = self._features.service(TEACHING_AID)
        if aid is not None:
            grounded = await aid.hints(session_id, question.text, question.choices,
                                       question.answer_text)
            if grounded:
                return grounded
        return await self.hint_provider.hints(question)

    async def _prepare_hints(self, session_id: str, question: Question) -> None:
        hints = await self._make_hints(session_id, question)
        await self.store.put_hints(session_id, question.id, hints)
        await self._publish(session_id, TEACHERS, ev.HINTS_READY,
                            {"question_id": question.id, "hints": hints})

    async def hints_for(self, session_id: str, question: Question) -> list[str]:
        hints = await self.store.get_hints(session_id, question.id)
        if hints is None:  # asked before the background preparation finished
            hints = await self._make_hints(session_id, question)
            await self.store.put_hints(session_id, question.id, hints)
        return hints

    async def send_hint(
        self, who: Identity, *, user_id: str, question_id: str | None, text: str | None,
        level: int | None,
    ) -> dict[str, Any]:
        """Send one student a hint: ``text``, or the cached hint at ``level`` (default: next)."""
        require_staff(who, "send hints")
        await self._active(who)
        sid = who.session_id
        part = await self.classroom.store.get_participant(sid, user_id)
        if part is None or part.role != "student":
            raise InvalidRequest(f"user {user_id!r} is not a student of this session")
        if text is None:
            if question_id is None:
                raise InvalidRequest("give 'text', or a 'question_id' to send a prepared hint")
            question = await self.store.get_question(sid, question_id)
            if question is None:
                raise NotFound(f"no question {question_id!r} in this session")
            hints = await self.hints_for(sid, question)
            key = (sid, question_id, user_id)
            chosen = level if level is not None else self._hint_levels.get(key, -1) + 1
            if not 0 <= chosen < len(hints):
                raise InvalidRequest(
                    f"field 'level': question {question_id!r} has hints 0..{len(hints) - 1}")
            text, level = hints[chosen], chosen
            self._hint_levels[key] = chosen
        payload = {"question_id": question_id, "text": text, "level": level,
                   "from": {"user": who.user_id, "name": who.name}}
        seq = await self._publish(sid, Audience.user(user_id), ev.HINT, payload)
        await self._history(sid, ev.HINT, by=who.user_id, user=user_id,
                            question_id=question_id, level=level, text=text)
        return {"user": user_id, "question_id": question_id, "level": level, "text": text,
                "seq": seq}

    # -- help ----------------------------------------------------------------------------------

    async def request_help(
        self, who: Identity, *, kind: HelpKind, text: str, question_id: str | None
    ) -> tuple[HelpRequest, bool]:
        require_student(who, "ask for help")
        await self._active(who)
        if question_id is not None and \
                await self.store.get_question(who.session_id, question_id) is None:
            raise NotFound(f"field 'question_id': no question {question_id!r} in this session")
        request = new_help_request(help_id=_new_id("h"), user_id=who.user_id, name=who.name,
                                   kind=kind, text=text, question_id=question_id,
                                   now_ms=self.clock())
        stored, added = await self.store.add_help(who.session_id, request)
        if added:
            await self._publish_queue(who.session_id, {"added": stored.to_json()})
            await self._history(who.session_id, ev.HELP_REQUESTED, request=stored.to_json())
        return stored, added

    async def resolve_help(self, who: Identity, help_id: str) -> HelpRequest:
        require_staff(who, "resolve help requests")
        await self._active(who)
        resolved = await self.store.resolve_help(who.session_id, help_id)
        if resolved is None:
            raise NotFound(f"no open help request {help_id!r} in this session")
        await self._publish_queue(who.session_id, {"resolved": help_id, "by": who.user_id})
        await self._publish(who.session_id, Audience.user(resolved.user_id), ev.HELP_RESOLVED,
                            {"help_id": help_id, "by": {"user": who.user_id, "name": who.name}})
        await self._history(who.session_id, ev.HELP_RESOLVED, help_id=help_id,
                            user=resolved.user_id, by=who.user_id)
        return resolved

    async def _publish_queue(self, session_id: str, change: dict[str, Any]) -> None:
        queue = queue_json(await self.store.help_queue(session_id))
        await self._publish(session_id, TEACHERS, ev.HELP_QUEUE,
                            {"queue": queue, "change": change})

    # -- polls ---------------------------------------------------------------------------------

    async def start_poll(
        self, who: Identity, *, question: str, options: list[str], show_results: bool
    ) -> Poll:
        require_staff(who, "start a poll")
        await self._active(who)
        open_now = sum(1 for p in await self.store.polls(who.session_id) if p.is_open)
        if open_now >= MAX_OPEN_POLLS:
            raise InvalidRequest(f"{open_now} polls are open (at most {MAX_OPEN_POLLS}): close "
                                 "one first")
        poll = new_poll(poll_id=_new_id("p"), question=question, options=options,
                        show_results=show_results, opened_by=who.user_id, now_ms=self.clock())
        await self.store.add_poll(who.session_id, poll)
        await self._publish(who.session_id, Audience.session(), ev.POLL_OPENED,
                            {"poll": poll.to_json(), "tally": tally(poll, {})})
        await self._history(who.session_id, ev.POLL_OPENED, by=who.user_id, poll=poll.to_json())
        return poll

    async def vote(self, who: Identity, *, poll_id: str, option: int) -> dict[str, Any]:
        """Set or change the student's vote; the tally goes out when it changed."""
        require_student(who, "vote in polls")
        await self._active(who)
        sid = who.session_id
        poll = await self.store.get_poll(sid, poll_id)
        if poll is None:
            raise NotFound(f"no poll {poll_id!r} in this session")
        check_vote(poll, option)
        result = await self.store.vote(sid, poll_id, who.user_id, option)
        if result.status == "closed":
            raise PollClosed(f"cannot vote in poll {poll_id!r} in state 'closed'")
        if result.status == "unknown":
            raise NotFound(f"no poll {poll_id!r} in this session")
        changed = result.previous != option
        if changed:
            counts = tally(poll, await self.store.votes(sid, poll_id))
            audience = Audience.session() if poll.show_results else TEACHERS
            await self._publish(sid, audience, ev.POLL_TALLY, {**counts, "final": False})
            await self._history(sid, ev.POLL_VOTE, poll_id=poll_id, user=who.user_id,
                                option=option, previous=result.previous)
        return {"poll_id": poll_id, "option": option, "previous": result.previous,
                "changed": changed}

    async def close_poll(self, who: Identity, poll_id: str) -> dict[str, Any]:
        require_staff(who, "close a poll")
        await self._active(who)
        sid = who.session_id
        closed = await self.store.close_poll(sid, poll_id, now_ms=self.clock())
        if closed is None:
            if await self.store.get_poll(sid, poll_id) is None:
                raise NotFound(f"no poll {poll_id!r} in this session")
            raise PollClosed(f"poll {poll_id!r} is already closed")
        counts = tally(closed, await self.store.votes(sid, poll_id))
        payload: dict[str, Any] = {"poll_id": poll_id, "closed_at_ms": closed.closed_at_ms,
                                   "by": who.user_id}
        if closed.show_results:
            payload["tally"] = counts
        await self._publish(sid, Audience.session(), ev.POLL_CLOSED, payload)
        if not closed.show_results:
            await self._publish(sid, TEACHERS, ev.POLL_TALLY, {**counts, "final": True})
        await self._history(sid, ev.POLL_CLOSED, poll_id=poll_id, by=who.user_id, tally=counts)
        return counts

    # -- board ---------------------------------------------------------------------------------

    async def board_op(
        self, who: Identity, *, op: dict[str, Any], client_id: str
    ) -> tuple[BoardEntry, bool]:
        """Validate, sequence and publish a board op: ``(entry, fresh)``."""
        sid = who.session_id
        require_board_writer(who, students_allowed=who.is_staff or await
                             self.store.board_students(sid))
        parsed = parse_op(op)
        if parsed["kind"] == "clear":
            require_staff(who, "clear the board")
        await self._active(who)

        async def publish(session_id: str, entry: BoardEntry) -> None:
            await self._publish(session_id, Audience.session(), ev.BOARD_OP,
                                ev.board_payload(entry))

        entry, fresh = await self.board.submit(sid, by=who.user_id, client_id=client_id,
                                               op=parsed, now_ms=self.clock(), publish=publish)
        if fresh and parsed["kind"] == "clear":  # single ops would flood the bounded history
            await self._history(sid, ev.BOARD_OP, by=who.user_id, board_seq=entry.seq,
                                op="clear")
        return entry, fresh

    async def board_snapshot(self, who: Identity) -> dict[str, Any]:
        snapshot = await self.board.snapshot(who.session_id)
        snapshot["students_allowed"] = await self.store.board_students(who.session_id)
        return snapshot

    async def permit_board(self, who: Identity, students: bool) -> None:
        require_staff(who, "open the board to students")
        await self._active(who)
        await self.store.set_board_students(who.session_id, students)
        await self._publish(who.session_id, Audience.session(), ev.BOARD_PERMIT,
                            {"students": students, "by": who.user_id})
        await self._history(who.session_id, ev.BOARD_PERMIT, students=students, by=who.user_id)

    # -- reconnect and shutdown ----------------------------------------------------------------

    async def snapshot(self, who: Identity) -> dict[str, Any]:
        """Everything a (re)joining client needs to draw the interactions, for ``who``."""
        groups = set() if who.is_staff else await self.groups_of(who)
        return await build_snapshot(self.store, who, await self.board_snapshot(who), groups)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Cancel timers and background work, then wait for them (bounded)."""
        await self._tasks.close(timeout_s)
        self._timers.clear()
        self.board.clear()
        if self._owns_store:
            await self.store.close()
