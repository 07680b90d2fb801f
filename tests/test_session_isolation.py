"""Every id a client names must belong to its own session (issue 13, item 6).

Two classes on one server: the teacher and a student of class B name class A's
ids in every message type that takes one. Each gets an ``error`` reply naming
the request (``ClassroomClient.request`` matches replies by ``re``: a reply
without it would time out), and nothing happens in class A: its generation keeps
streaming, its question and poll stay open, the help request stays queued, no
student of A is told a result. Memory and Redis (where the interactions and the
chat live in shared keys).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from signaling.client import ClassroomClient, ClientError
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import Harness

#: Events a leaked command would have published in class A (A closed ``closed_q`` itself).
LEAKS = {"content.stopped", "answer.result", "poll.closed", "help.resolved", "hint"}
#: The fields that name something of class A (the error says which one it did not find).
ID_FIELDS = {"generation_id", "question_id", "poll_id", "help_id", "reply_to", "item_id"}


@pytest.fixture(params=["memory", "redis"])
async def two_classes(request, make_server: Callable[..., Awaitable[Harness]]
                      ) -> AsyncIterator[Harness]:
    # Slow local composer: the generation is still streaming when class B tries to stop it.
    overrides: dict[str, Any] = {"local_tokens_per_s": 20}
    if request.param == "redis":
        overrides |= {"redis_url": require_redis(), "redis_key_prefix": unique_prefix()}
    server = await make_server(**overrides)
    for sid, teacher in (("A", "ta"), ("B", "tb")):
        await server.classroom.create_session(session_id=sid, teacher_id=teacher)
    yield server
    if "redis_url" in overrides:
        await server.close()
        await delete_prefix(overrides["redis_url"], overrides["redis_key_prefix"])


async def _refused(client: ClassroomClient, message: dict[str, Any]) -> ClientError:
    with pytest.raises(ClientError) as refused:
        await client.request(message)
    return refused.value


async def test_ids_of_another_session_are_refused_and_change_nothing(two_classes: Harness):
    server = two_classes
    ta = await server.client("ta", "teacher", session="A", webrtc=False)
    sa = await server.client("sa", session="A", webrtc=False)
    tb = await server.client("tb", "teacher", session="B", webrtc=False)
    sb = await server.client("sb", session="B", webrtc=False)

    # Class A: a streaming generation, an open question, a closed and answered one, an
    # open poll, a help request and a student's message to the teacher.
    generation = (await ta.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "A long lesson about volcanoes"}}))["generation_id"]
    ask = {"type": "question.ask", "text": "2+2?", "choices": ["3", "4"], "correct": 1}
    open_q = (await ta.request(ask))["question"]["id"]
    closed_q = (await ta.request(ask))["question"]["id"]
    await sa.request({"type": "answer.submit", "question_id": closed_q, "choice": 1})
    await ta.request({"type": "question.close", "question_id": closed_q})
    poll = (await ta.request({"type": "poll.start", "question": "Ready?",
                              "options": ["yes", "no"]}))["poll"]["id"]
    help_id = (await sa.request({"type": "help.request", "text": "stuck"}))["help_id"]
    message = (await sa.request({"type": "message", "to": {"group": "teacher"},
                                 "text": "why?"}))["message_id"]
    await ta.request({"type": "board.op", "op": {"kind": "add", "item": {
        "id": "note-1", "x": 0.1, "y": 0.2, "text": "A's note"}}})

    # Class B names each of them.
    attempts = [
        (tb, {"type": "content.stop", "generation_id": generation}, "invalid_request"),
        (tb, {"type": "question.close", "question_id": open_q}, "not_found"),
        (tb, {"type": "question.reveal", "question_id": closed_q}, "not_found"),
        (tb, {"type": "hint.send", "user": "sb", "question_id": open_q}, "not_found"),
        (tb, {"type": "poll.close", "poll_id": poll}, "not_found"),
        (tb, {"type": "help.resolve", "help_id": help_id}, "not_found"),
        (tb, {"type": "message", "to": {"session": True}, "text": "hi",
              "reply_to": message}, "not_found"),
        (sb, {"type": "answer.submit", "question_id": open_q, "choice": 0}, "not_found"),
        (sb, {"type": "poll.vote", "poll_id": poll, "option": 0}, "not_found"),
        (sb, {"type": "help.request", "text": "me too", "question_id": open_q}, "not_found"),
        (sb, {"type": "content.confused", "generation_id": generation}, "not_found"),
        (tb, {"type": "board.op", "op": {"kind": "delete", "item_id": "note-1"}},
         "invalid_board_op"),
        (tb, {"type": "board.op", "op": {"kind": "move", "item_id": "note-1", "x": 0.5,
                                         "y": 0.5}}, "invalid_board_op"),
    ]
    # A user of class A is no user of class B.
    error = await _refused(tb, {"type": "hint.send", "user": "sa", "text": "psst"})
    assert error.code == "invalid_request" and "'sa'" in error.message
    for client, attempt, code in attempts:
        error = await _refused(client, attempt)
        assert error.code == code, (attempt, error)
        named = {**attempt, **attempt.get("op", {})}
        foreign = [v for k, v in named.items() if k in ID_FIELDS]
        assert foreign and all(repr(v) in error.message for v in foreign), error

    # Class A saw none of it: everything A's student receives before the teacher's marker
    # was published before it, so a leaked close, reveal or stop would be among it.
    marker = await ta.request({"type": "message", "to": {"session": True}, "text": "marker"})
    seen: list[dict[str, Any]] = []
    while True:
        event = await sa.next_event(timeout=20)
        if event["seq"] == marker["seq"]:
            break
        seen.append(event)
    assert not [e["type"] for e in seen if e["type"] in LEAKS]
    assert [e["payload"]["question_id"] for e in seen if e["type"] == "question.closed"
            ] == [closed_q]
    # The generation is still streaming, and A's own commands still find everything open.
    while (event := await sa.next_event(timeout=20))["type"] != "content.chunk":
        assert event["type"] not in ("content.stopped", "content.done", "content.failed")
    assert event["payload"]["generation_id"] == generation
    await ta.request({"type": "content.stop", "generation_id": generation})
    await ta.request({"type": "question.close", "question_id": open_q})
    assert (await ta.request({"type": "question.reveal", "question_id": closed_q}))[
        "students"] == 1
    await ta.request({"type": "poll.close", "poll_id": poll})
    board = await ta.request({"type": "board.sync"})
    assert [(i["id"], i["x"]) for i in board["items"]] == [("note-1", 0.1)]
    await ta.request({"type": "help.resolve", "help_id": help_id})
    reply = await ta.request({"type": "message", "to": {"user": "sa"}, "text": "because",
                              "reply_to": message})
    assert reply["message_id"]
    # Class B's own ids still work there (the checks refuse foreign ids, not every id).
    own = (await tb.request(ask))["question"]["id"]
    await sb.request({"type": "help.request", "text": "hm", "question_id": own})
