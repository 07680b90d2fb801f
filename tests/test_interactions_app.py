"""What the web app needs from interactions: a question for one breakout group, showing
students their results (question.reveal → answer.result), and the teacher's snapshot
with the answers and hints of the open question (memory and Redis stores)."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import ClientError
from tests.support import interactions_fixtures as fx
from tests.support.interactions_fixtures import IxHarness, Recorder

ix_kind, make_ix_server, ix_server = fx.ix_kind, fx.make_ix_server, fx.ix_server


async def join(server: IxHarness, user: str, role: str = "student"):
    client = await server.client(user, role, webrtc=False)
    return client, Recorder(client)


async def test_question_to_a_group_reaches_only_its_members_and_the_teachers(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    (ann, a_rec), (bob, b_rec) = await join(ix_server, "ann"), await join(ix_server, "bob")
    with pytest.raises(ClientError) as info:  # a group without members is no audience
        await teacher.request({"type": "question.ask", "text": "Q?", "kind": "free",
                               "to": {"group": "g1"}})
    assert info.value.code == "invalid_request" and "g1" in info.value.message
    await teacher.request({"type": "group.set", "group": "g1", "add": ["ann"]})
    await a_rec.wait("group.updated")
    ack = await teacher.request({"type": "question.ask", "text": "Only g1?", "kind": "free",
                                 "correct": "yes", "to": {"group": "g1"}})
    question = ack["question"]
    assert question["to"] == {"group": "g1"}
    (opened,) = await a_rec.wait("question.opened")
    assert opened["to"] == {"group": "g1"} and opened["payload"]["question"]["id"] == question["id"]
    await t_rec.wait("question.opened")
    with pytest.raises(ClientError) as info:
        await bob.request({"type": "answer.submit", "question_id": question["id"], "text": "me"})
    assert info.value.code == "forbidden"
    receipt = await ann.request({"type": "answer.submit", "question_id": question["id"],
                                 "text": "yes"})
    assert receipt["type"] == "answer.receipt"
    # A late joiner's snapshot: the group's question for a member, nothing for the others.
    snap_ann = await ann.request({"type": "interactions.sync"})
    snap_bob = await bob.request({"type": "interactions.sync"})
    assert [q["id"] for q in snap_ann["questions"]] == [question["id"]]
    assert snap_bob["questions"] == []
    await teacher.request({"type": "question.close", "question_id": question["id"]})
    await a_rec.wait("question.closed")
    await asyncio.sleep(0.2)
    assert b_rec.of("question.opened") == [] and b_rec.of("question.closed") == []


async def test_reveal_tells_each_student_their_result(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    (ann, a_rec), (bob, b_rec) = await join(ix_server, "ann"), await join(ix_server, "bob")
    ack = await teacher.request({"type": "question.ask", "text": "2+2?", "choices": ["3", "4"],
                                 "correct": 1})
    qid = ack["question"]["id"]
    await ann.request({"type": "answer.submit", "question_id": qid, "choice": 1})
    await bob.request({"type": "answer.submit", "question_id": qid, "choice": 0})
    await t_rec.wait("answer.evaluated", 2)
    with pytest.raises(ClientError) as info:
        await teacher.request({"type": "question.reveal", "question_id": qid})
    assert "close the question" in info.value.message
    with pytest.raises(ClientError) as info:
        await ann.request({"type": "question.reveal", "question_id": qid})
    assert info.value.code == "forbidden"
    await teacher.request({"type": "question.close", "question_id": qid})
    told = await teacher.request({"type": "question.reveal", "question_id": qid})
    assert told["students"] == 2
    (mine,) = await a_rec.wait("answer.result")
    assert mine["to"] == {"user": "ann"}
    assert mine["payload"]["correct"] is True and mine["payload"]["correct_choice"] == 1
    # The feedback only restates the key: a page says it in its own language from these.
    assert mine["payload"]["feedback_kind"] == "key"
    (theirs,) = await b_rec.wait("answer.result")
    assert theirs["payload"]["correct"] is False and theirs["payload"]["feedback"]
    assert theirs["payload"]["feedback_kind"] == "key"
    assert theirs["payload"]["correct_choice"] == 1
    assert len(a_rec.of("answer.result")) == 1  # each student only their own


async def test_reveal_gives_keyword_feedback_as_keywords_a_page_can_phrase(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    ann, a_rec = await join(ix_server, "ann")
    ack = await teacher.request({"type": "question.ask", "text": "What do plants make?",
                                 "kind": "free", "correct": "sugar and oxygen"})
    qid = ack["question"]["id"]
    await ann.request({"type": "answer.submit", "question_id": qid, "text": "sugar mostly"})
    await t_rec.wait("answer.evaluated")
    await teacher.request({"type": "question.close", "question_id": qid})
    await teacher.request({"type": "question.reveal", "question_id": qid})
    (result,) = await a_rec.wait("answer.result")
    p = result["payload"]
    assert p["feedback_kind"] == "keywords" and p["reference"] == "sugar and oxygen"
    assert (p["matched"], p["missing"]) == (["sugar"], ["oxygen"])


async def test_teacher_snapshot_has_the_open_questions_answers_and_hints(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    ann, _ = await join(ix_server, "ann")
    ack = await teacher.request({"type": "question.ask", "text": "Which gas do plants take in?",
                                 "choices": ["Oxygen", "Carbon dioxide"], "correct": 1})
    qid = ack["question"]["id"]
    await ann.request({"type": "answer.submit", "question_id": qid, "choice": 1})
    await t_rec.wait("answer.evaluated")
    await t_rec.wait("hints.ready")
    # A reloaded teacher page: a fresh join's welcome carries the snapshot.
    again = await ix_server.client("teacher", "teacher", webrtc=False)
    ix = again.welcome["snapshot"]["interactions"]
    (answer,) = ix["answers"]
    assert (answer["user"], answer["choice"], answer["correct"]) == ("ann", 1, True)
    assert ix["hints"][qid] and all(isinstance(h, str) for h in ix["hints"][qid])
    student_view = await ann.request({"type": "interactions.sync"})
    assert "answers" not in student_view and "hints" not in student_view


async def test_student_message_ack_names_its_message_for_threading_replies(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    ann, a_rec = await join(ix_server, "ann")
    ack = await ann.request({"type": "message", "to": {"group": "teacher"}, "text": "help?"})
    (got,) = await t_rec.wait("message")
    assert ack["message_id"] == got["payload"]["message_id"]
    await teacher.request({"type": "message", "to": {"user": "ann"}, "text": "coming",
                           "reply_to": ack["message_id"]})
    (reply,) = await a_rec.wait("message")
    assert reply["payload"]["reply_to"] == ack["message_id"]


async def test_teacher_written_hints_are_the_questions_prepared_hints(ix_server):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    (_ann, a_rec), (bob, b_rec) = await join(ix_server, "ann"), await join(ix_server, "bob")
    mine = ["  Think of what leaves breathe in. ", "We breathe it out.", "식물은 이것을 흡수해요."]
    ack = await teacher.request({"type": "question.ask", "text": "Which gas do plants take in?",
                                 "choices": ["Oxygen", "Carbon dioxide"], "correct": 1,
                                 "auto_hint": True, "hints": mine})
    qid = ack["question"]["id"]
    expected = [h.strip() for h in mine]
    (ready,) = await t_rec.wait("hints.ready", where=lambda p: p["question_id"] == qid)
    assert ready["payload"]["hints"] == expected
    # "Send hint": the teacher's hints, in order.
    first = await teacher.request({"type": "hint.send", "user": "ann", "question_id": qid})
    assert (first["text"], first["level"]) == (expected[0], 0)
    (got,) = await a_rec.wait("hint")
    assert got["payload"]["text"] == expected[0]
    second = await teacher.request({"type": "hint.send", "user": "ann", "question_id": qid})
    assert (second["text"], second["level"]) == (expected[1], 1)
    # The automatic rule on a wrong answer: the teacher's first hint.
    await bob.request({"type": "answer.submit", "question_id": qid, "choice": 0})
    (auto,) = await b_rec.wait("hint")
    assert auto["payload"]["text"] == expected[0]
    assert auto["payload"]["from"]["name"] == "automatic hint"
    # No generated hints replace them (a reloaded teacher page sees the teacher's).
    again = await ix_server.client("teacher", "teacher", webrtc=False)
    assert again.welcome["snapshot"]["interactions"]["hints"][qid] == expected
    assert len(t_rec.of("hints.ready")) == 1


@pytest.mark.parametrize(("hints", "code", "names"), [
    (["one", "two", "three", "four", "five", "six"], "malformed_message", "at most 5"),
    (["x" * 501], "malformed_message", "hints.0"),
    (["fine", 7], "malformed_message", "hints.1"),
    ("just one", "malformed_message", "hints"),
    (["fine", "   "], "invalid_request", "'hints.1'"),
    ([""], "malformed_message", "hints.0"),
])
async def test_bad_teacher_hints_are_refused_naming_the_request(ix_server, hints, code,
                                                                names):
    teacher, _ = await join(ix_server, "teacher", "teacher")
    with pytest.raises(ClientError) as info:  # request() matches the error by its `re`
        await teacher.request({"id": "ask-1", "type": "question.ask", "text": "Q?",
                               "choices": ["a", "b"], "hints": hints})
    assert info.value.code == code and names in info.value.message, info.value
    (error,) = [r for r in teacher.replies if r["type"] == "error"]
    assert error["re"] == "ask-1"
    assert await ix_server.interactions.store.questions("s1") == []
