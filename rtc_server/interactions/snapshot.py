"""The interaction snapshot a (re)joining client draws from, filtered by role.

For the lead's reconnect path when the event log no longer reaches back, and
for the ``interactions.sync`` message::

    questions    open questions (``correct`` only for staff)
    polls        open polls: {poll, tally (staff, or when show_results), my_vote (students)}
    board        {seq, items, students_allowed}
    help_queue   staff: the whole queue, oldest first
    answers      staff: the answers to the open questions so far, each with its evaluation
                 (``correct``, ``score``, ``feedback``) once made
    hints        staff: {question id: prepared hints} of the open questions
    my_answers   students: their answers (answer.received payloads)
    my_help      students: their open help request, or null
"""

from __future__ import annotations

from typing import Any

from rtc_server.base.identity import Identity

from .events import answer_payload
from .help import queue_json
from .polls import tally
from .store import InteractionStore

__all__ = ["build_snapshot"]


async def build_snapshot(
    store: InteractionStore, who: Identity, board: dict[str, Any], groups: set[str]
) -> dict[str, Any]:
    """``groups``: the named groups of ``who`` (a student sees the questions of those)."""
    sid, staff = who.session_id, who.is_staff
    polls = []
    open_polls = [poll for poll in await store.polls(sid) if poll.is_open]
    all_votes = await store.votes_by_poll(sid) if open_polls else {}
    for poll in open_polls:
        votes = all_votes.get(poll.id, {})
        entry: dict[str, Any] = {"poll": poll.to_json()}
        if staff or poll.show_results:
            entry["tally"] = tally(poll, votes)
        if who.role == "student":
            entry["my_vote"] = votes.get(who.user_id)
        polls.append(entry)
    help_queue = queue_json(await store.help_queue(sid))
    open_questions = [q for q in await store.questions(sid) if q.is_open
                      and (staff or q.group is None or q.group in groups)]
    out: dict[str, Any] = {
        "questions": [q.to_json(full=staff) for q in open_questions],
        "polls": polls,
        "board": board,
    }
    if staff:
        out["help_queue"] = help_queue
        out["answers"] = []
        out["hints"] = {}
        for question in open_questions:
            evaluations = {e.answer_id: e for e in await store.evaluations(sid, question.id)}
            for answer in await store.answers(sid, question.id):
                entry = answer_payload(answer)
                evaluation = evaluations.get(answer.id)
                if evaluation is not None:
                    entry.update(correct=evaluation.correct, score=evaluation.score,
                                 feedback=evaluation.feedback)
                out["answers"].append(entry)
            hints = await store.get_hints(sid, question.id)
            if hints:
                out["hints"][question.id] = hints
    else:
        out["my_answers"] = [answer_payload(a) for a in await store.answers_of(sid, who.user_id)]
        out["my_help"] = next((h for h in help_queue if h["user_id"] == who.user_id), None)
    return out
