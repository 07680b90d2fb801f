"""Live interactions over real aiortc peers on loopback: a scripted lesson, and bad input."""

from __future__ import annotations

import asyncio

import pytest

from rtc_server.interactions import LocalEvaluator, LocalHintProvider, Question, parse_op
from rtc_server.interactions.board import BoardState, apply, check_applicable
from rtc_server.interactions.exceptions import InvalidBoardOp
from rtc_server.interactions.questions import Answer
from signaling.client import ClientError
from tests.support import interactions_fixtures as fx
from tests.support.interactions_fixtures import IxHarness, Recorder

# The fixtures, made visible to this module (they are not in conftest.py).
ix_kind, make_ix_server, ix_server = fx.ix_kind, fx.make_ix_server, fx.ix_server

CHOICES = ["Oxygen", "Carbon dioxide", "Nitrogen", "Helium"]


async def join(server: IxHarness, user: str, role: str = "student"):
    client = await server.client(user, role)
    return client, Recorder(client)


async def refused(client, message: dict, code: str) -> str:
    with pytest.raises(ClientError) as info:
        await client.request(message)
    assert info.value.code == code, info.value
    return info.value.message


async def test_lesson_choice_question_answers_evaluations_hint_and_close(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    students = [await join(ix_server, f"st{i}") for i in range(4)]
    ack = await teacher.request({"type": "question.ask", "text": "Which gas do plants take in?",
                                 "choices": CHOICES, "correct": 1, "time_limit_s": 3})
    question = ack["question"]
    assert question["correct"] == 1 and question["status"] == "open"
    qid = question["id"]
    for _, rec in students:
        (opened,) = await rec.wait("question.opened")
        assert opened["payload"]["question"]["id"] == qid
        assert "correct" not in opened["payload"]["question"], "students never see the key"
        assert opened["payload"]["question"]["choices"] == CHOICES

    receipts = {}
    for (client, _), choice in zip(students[:3], (1, 2, 1), strict=True):
        receipt = await client.request({"type": "answer.submit", "question_id": qid,
                                        "choice": choice})
        assert receipt["type"] == "answer.receipt" and receipt["question_id"] == qid
        assert receipt["answer_id"] and receipt["duplicate"] is False
        receipts[client.welcome["user"]["id"]] = receipt["answer_id"]

    received = await t_rec.wait("answer.received", 3)
    assert {e["payload"]["user"]: e["payload"]["answer_id"] for e in received} == receipts
    evaluated = await t_rec.wait("answer.evaluated", 3)
    verdicts = {e["payload"]["user_id"]: e["payload"] for e in evaluated}
    assert {u: v["correct"] for u, v in verdicts.items()} == {"st0": True, "st1": False,
                                                               "st2": True}
    assert "Carbon dioxide" in verdicts["st1"]["suggested_feedback"]
    assert all(v["feedback"] for v in verdicts.values())

    # A second, different answer is refused and names the first; a resend is the same receipt.
    st0 = students[0][0]
    message = await refused(st0, {"type": "answer.submit", "question_id": qid, "choice": 0},
                            "already_answered")
    assert receipts["st0"] in message
    resend_id = st0.new_id()
    st3 = students[3][0]
    first = await st3.request({"type": "answer.submit", "id": resend_id, "question_id": qid,
                               "choice": 3})
    again = await st3.request({"type": "answer.submit", "id": resend_id, "question_id": qid,
                               "choice": 3})
    assert first["duplicate"] is False and again["duplicate"] is True
    assert [a.id for a in await ix_server.interactions.store.answers("s1", qid)
            if a.user_id == "st3"] == [first["answer_id"]]
    await t_rec.wait("answer.received", 4)

    # The teacher sends st1 the prepared first hint; only st1 gets it.
    ready = await t_rec.wait("hints.ready", where=lambda p: p["question_id"] == qid)
    sent = await teacher.request({"type": "hint.send", "user": "st1", "question_id": qid})
    assert sent["text"] == ready[0]["payload"]["hints"][0] and sent["level"] == 0
    (hint,) = await students[1][1].wait("hint")
    assert hint["payload"]["text"] == sent["text"] and hint["to"] == {"user": "st1"}

    # The time limit closes the question by itself; later answers are refused with the reason.
    for _, rec in students:
        (closed,) = await rec.wait("question.closed", timeout=10)
        assert closed["payload"]["reason"] == "time"
    assert not students[0][1].of("hint") and not students[2][1].of("hint")
    (summary,) = await t_rec.wait("question.summary")
    assert summary["payload"]["answers"] == 4
    assert summary["payload"]["by_choice"] == [0, 2, 1, 1]
    assert (summary["payload"]["correct"], summary["payload"]["incorrect"]) == (2, 2)
    late = await join(ix_server, "st9")
    message = await refused(late[0], {"type": "answer.submit", "question_id": qid, "choice": 1},
                            "question_closed")
    assert "closed" in message and "time limit" in message

    record = await ix_server.classroom.get_session("s1")
    kinds = [h["kind"] for h in record.interaction_history]
    assert kinds.count("answer.received") == 4 and "question.opened" in kinds
    assert "hint" in kinds and "question.closed" in kinds


async def test_answer_after_time_limit_refused_before_timer_fires(ix_server: IxHarness):
    teacher = await ix_server.client("teacher", "teacher")
    student = await ix_server.client("sam")
    ack = await teacher.request({"type": "question.ask", "text": "Quick!", "choices": ["a", "b"],
                                 "time_limit_s": 60})
    ix = ix_server.interactions
    real_clock = ix.clock
    ix.clock = lambda: real_clock() + 61_000  # the timer still sleeps for a minute
    message = await refused(student, {"type": "answer.submit", "question_id": ack["question"]["id"],
                                      "choice": 0}, "question_closed")
    assert "too late" in message and "60 s" in message
    ix.clock = real_clock
    assert await ix.store.answers("s1", ack["question"]["id"]) == []


async def test_free_text_answer_evaluated_by_keyword_overlap(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    student = await ix_server.client("ann")
    ack = await teacher.request({"type": "question.ask", "kind": "free",
                                 "text": "What does photosynthesis produce?",
                                 "correct": "glucose and oxygen from light"})
    qid = ack["question"]["id"]
    await student.request({"type": "answer.submit", "question_id": qid,
                           "text": "It makes glucose and oxygen using light"})
    (evaluated,) = await t_rec.wait("answer.evaluated")
    assert evaluated["payload"]["correct"] is True and evaluated["payload"]["score"] == 1.0
    await teacher.request({"type": "question.close", "question_id": qid})
    (closed,) = await t_rec.wait("question.closed")
    assert closed["payload"]["reason"] == "teacher" and closed["payload"]["by"] == "teacher"
    await refused(teacher, {"type": "question.close", "question_id": qid}, "invalid_request")


async def test_poll_start_vote_change_close_tally(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    students = [await join(ix_server, f"st{i}") for i in range(3)]
    ack = await teacher.request({"type": "poll.start", "question": "Ready for the quiz?",
                                 "options": ["yes", "no", "almost"]})
    pid = ack["poll"]["id"]
    for (client, rec), option in zip(students, (0, 1, 1), strict=True):
        await rec.wait("poll.opened")
        vote = await client.request({"type": "poll.vote", "poll_id": pid, "option": option})
        assert vote["changed"] is True and vote["previous"] is None
    changed = await students[1][0].request({"type": "poll.vote", "poll_id": pid, "option": 2})
    assert (changed["previous"], changed["changed"]) == (1, True)
    same = await students[1][0].request({"type": "poll.vote", "poll_id": pid, "option": 2})
    assert same["changed"] is False
    tallies = await t_rec.wait("poll.tally", 4)
    assert tallies[-1]["payload"]["counts"] == [1, 1, 1] and tallies[-1]["payload"]["total"] == 3
    final = await teacher.request({"type": "poll.close", "poll_id": pid})
    assert final["counts"] == [1, 1, 1]
    (closed,) = await students[0][1].wait("poll.closed")
    assert "tally" not in closed["payload"], "results hidden from students unless show_results"
    assert not any(rec.of("poll.tally") for _, rec in students)
    (last,) = await t_rec.wait("poll.tally", where=lambda p: p["final"])
    assert last["payload"]["counts"] == [1, 1, 1]
    await refused(students[0][0], {"type": "poll.vote", "poll_id": pid, "option": 1},
                  "poll_closed")
    assert await ix_server.interactions.store.votes("s1", pid) == {"st0": 0, "st1": 2, "st2": 1}


async def test_poll_with_show_results_tally_reaches_students(ix_server: IxHarness):
    teacher = await ix_server.client("teacher", "teacher")
    student, rec = await join(ix_server, "ann")
    ack = await teacher.request({"type": "poll.start", "question": "Tea or coffee?",
                                 "options": ["tea", "coffee"], "show_results": True})
    await student.request({"type": "poll.vote", "poll_id": ack["poll"]["id"], "option": 1})
    (tally,) = await rec.wait("poll.tally")
    assert tally["payload"]["counts"] == [0, 1] and tally["to"] == {"session": True}


async def test_board_ops_in_order_and_late_joiner_sync(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    student, s_rec = await join(ix_server, "ann")
    note = {"kind": "add", "item": {"id": "n1", "x": 100, "y": 120, "text": "Chlorophyll"}}
    first = await teacher.request({"type": "board.op", "op": note})
    assert first["board_seq"] == 1
    await refused(student, {"type": "board.op", "op": {"kind": "delete", "item_id": "n1"}},
                  "forbidden")
    await teacher.request({"type": "board.permit", "students": True})
    await s_rec.wait("board.permit")
    stroke_id = student.new_id()
    stroke = {"type": "board.op", "id": stroke_id,
              "op": {"kind": "stroke", "item": {"id": "s1", "points": [[1, 1], [50, 60]]}}}
    second = await student.request(stroke)
    resent = await student.request(stroke)
    assert second["board_seq"] == 2 and resent["duplicate"] is True
    await teacher.request({"type": "board.op", "op": {"kind": "move", "item_id": "n1",
                                                      "x": 300, "y": 310}})
    ops = await t_rec.wait("board.op", 3)
    assert [e["payload"]["board_seq"] for e in ops] == [1, 2, 3]
    assert [e["payload"]["by"] for e in ops] == ["teacher", "ann", "teacher"]

    late, l_rec = await join(ix_server, "lee")
    snapshot = await late.request({"type": "board.sync"})
    assert snapshot["type"] == "board.snapshot" and snapshot["seq"] == 3
    await student.request({"type": "board.op", "op": {"kind": "delete", "item_id": "s1"}})
    await teacher.request({"type": "board.op", "op": {
        "kind": "add", "item": {"id": "n2", "x": 5, "y": 5, "text": "ATP"}}})
    live = await l_rec.wait("board.op", 2)
    # Client rule: apply the snapshot, then only live ops with a higher board seq.
    board = BoardState(seq=snapshot["seq"], items={i["id"]: i for i in snapshot["items"]})
    for event in sorted(live, key=lambda e: e["payload"]["board_seq"]):
        if event["payload"]["board_seq"] > board.seq:
            apply(board, event["payload"]["board_seq"], event["payload"]["op"])
    fresh = await teacher.request({"type": "board.sync"})
    assert board.to_json() == {"seq": fresh["seq"], "items": fresh["items"]}
    assert [i["id"] for i in fresh["items"]] == ["n1", "n2"]
    assert fresh["items"][0]["x"] == 300


async def test_malformed_board_ops_are_refused_and_change_nothing(ix_server: IxHarness):
    teacher = await ix_server.client("teacher", "teacher")
    await teacher.request({"type": "board.op", "op": {"kind": "add", "item": {
        "id": "n1", "x": 1, "y": 1, "text": "hi"}}})
    before = await teacher.request({"type": "board.sync"})
    cases = [
        ({"kind": "add", "item": {"id": "n2", "y": 1}}, "op.item.x"),
        ({"kind": "add", "item": {"id": "n1", "x": 1, "y": 1}}, "op.item.id"),
        ({"kind": "move", "item_id": "nope", "x": 1, "y": 1}, "op.item_id"),
        ({"kind": "stroke", "item": {"id": "s", "points": [[1, "a"]]}}, "op.item.points.0.1"),
        ({"kind": "teleport"}, "op.kind"),
        ("not an object", "'op'"),
        ({"kind": "add", "item": {"id": "n3", "x": 1e9, "y": 1}}, "op.item.x"),
    ]
    for op, field in cases:
        message = await refused(teacher, {"type": "board.op", "op": op}, "invalid_board_op")
        assert field in message, (op, message)
    assert await teacher.request({"type": "board.sync"}) == before


async def test_help_request_queue_and_resolve(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    student, s_rec = await join(ix_server, "ann")
    other, o_rec = await join(ix_server, "bob")
    ack = await student.request({"type": "help.request", "text": "I am stuck on part 2"})
    assert ack["added"] is True
    again = await student.request({"type": "help.request", "text": "still stuck"})
    assert (again["help_id"], again["added"]) == (ack["help_id"], False)
    hand = await other.request({"type": "help.request", "kind": "hand"})
    queues = await t_rec.wait("help.queue", 2)
    assert [r["user_id"] for r in queues[-1]["payload"]["queue"]] == ["ann", "bob"]
    assert queues[-1]["payload"]["change"]["added"]["kind"] == "hand"
    await refused(student, {"type": "help.resolve", "help_id": ack["help_id"]}, "forbidden")
    await teacher.request({"type": "help.resolve", "help_id": ack["help_id"]})
    latest = await t_rec.wait("help.queue", 3)
    assert [r["id"] for r in latest[-1]["payload"]["queue"]] == [hand["help_id"]]
    (resolved,) = await s_rec.wait("help.resolved")
    assert resolved["payload"]["help_id"] == ack["help_id"]
    assert not o_rec.of("help.resolved") and not s_rec.of("help.queue")
    await refused(teacher, {"type": "help.resolve", "help_id": ack["help_id"]}, "not_found")


async def test_roles_and_bad_input_are_refused_clearly(ix_server: IxHarness):
    teacher = await ix_server.client("teacher", "teacher")
    student = await ix_server.client("ann")
    observer = await ix_server.client("obi", "observer")
    for message in (
        {"type": "question.ask", "text": "?", "choices": ["a", "b"]},
        {"type": "poll.start", "question": "?", "options": ["a", "b"]},
        {"type": "hint.send", "user": "ann", "text": "psst"},
        {"type": "board.permit", "students": True},
        {"type": "question.close", "question_id": "q-x"},
    ):
        text = await refused(student, message, "forbidden")
        assert "teacher or admin" in text and "'student'" in text
    await refused(observer, {"type": "answer.submit", "question_id": "q", "choice": 0},
                  "forbidden")
    await refused(observer, {"type": "help.request", "kind": "hand"}, "forbidden")
    await refused(teacher, {"type": "answer.submit", "question_id": "q", "choice": 0},
                  "forbidden")
    text = await refused(student, {"type": "answer.submit", "question_id": "q-none",
                                   "choice": 0}, "not_found")
    assert "q-none" in text
    await refused(student, {"type": "poll.vote", "poll_id": "p-none", "option": 0}, "not_found")
    ack = await teacher.request({"type": "question.ask", "text": "Pick", "choices": ["a", "b"]})
    qid = ack["question"]["id"]
    text = await refused(student, {"type": "answer.submit", "question_id": qid, "choice": 5},
                         "invalid_request")
    assert "'choice'" in text
    await refused(student, {"type": "answer.submit", "question_id": qid}, "invalid_request")
    await refused(teacher, {"type": "question.ask", "text": "x", "choices": ["a"]},
                  "invalid_request")
    await refused(teacher, {"type": "question.ask", "text": "x", "choices": ["a", "b"],
                            "correct": 7}, "invalid_request")
    await refused(teacher, {"type": "hint.send", "user": "nobody", "text": "hi"},
                  "invalid_request")
    # answer.submit without an id is malformed (resends are recognised by the id)
    await student.send_raw(f'{{"type": "answer.submit", "question_id": "{qid}", "choice": 0}}')
    await asyncio.sleep(0.3)
    error = next(r for r in reversed(student.replies) if r["type"] == "error")
    assert error["payload"]["code"] == "malformed_message" and "id" in error["payload"]["message"]
    await teacher.request({"type": "question.close", "question_id": qid})
    text = await refused(student, {"type": "answer.submit", "question_id": qid, "choice": 0},
                         "question_closed")
    assert "by the teacher" in text
    assert await ix_server.interactions.store.answers("s1", qid) == []


async def test_snapshot_for_reconnect(ix_server: IxHarness):
    teacher = await ix_server.client("teacher", "teacher")
    student = await ix_server.client("ann")
    ack = await teacher.request({"type": "question.ask", "text": "Pick", "choices": ["a", "b"],
                                 "correct": 0})
    qid = ack["question"]["id"]
    await student.request({"type": "answer.submit", "question_id": qid, "choice": 1})
    poll = await teacher.request({"type": "poll.start", "question": "?", "options": ["x", "y"]})
    await student.request({"type": "poll.vote", "poll_id": poll["poll"]["id"], "option": 1})
    await student.request({"type": "help.request", "kind": "hand"})
    mine = await student.request({"type": "interactions.sync"})
    assert mine["type"] == "interactions.snapshot"
    assert [q["id"] for q in mine["questions"]] == [qid] and "correct" not in mine["questions"][0]
    assert [a["choice"] for a in mine["my_answers"]] == [1]
    assert mine["polls"][0]["my_vote"] == 1 and "tally" not in mine["polls"][0]
    assert mine["my_help"]["kind"] == "hand" and "help_queue" not in mine
    staff = await teacher.request({"type": "interactions.sync"})
    assert staff["questions"][0]["correct"] == 0
    assert staff["polls"][0]["tally"]["counts"] == [0, 1]
    assert [h["user_id"] for h in staff["help_queue"]] == ["ann"]
    assert staff["board"] == {"seq": 0, "items": [], "students_allowed": False}


# -- pure rules ----------------------------------------------------------------------------------


def test_parse_op_normalises_and_names_fields():
    op = parse_op({"kind": "add", "item": {"id": "n", "x": 1, "y": 2, "text": "t"}})
    assert op["item"] == {"id": "n", "type": "note", "x": 1.0, "y": 2.0, "text": "t",
                          "color": "#fff59d"}
    with pytest.raises(InvalidBoardOp) as info:
        parse_op({"kind": "stroke", "item": {"id": "s", "points": [[1, 2]], "width": 99}})
    assert info.value.field == "op.item.width"
    state = BoardState()
    apply(state, 1, op)
    with pytest.raises(InvalidBoardOp):
        check_applicable(state, op)
    apply(state, 2, {"kind": "move", "item_id": "gone", "x": 1, "y": 1})  # total: no error
    assert state.seq == 2 and list(state.items) == ["n"]


async def test_local_hints_are_progressive_and_do_not_start_with_the_answer():
    question = Question(id="q", text="Which gas do plants absorb for photosynthesis?",
                        kind="choice", choices=tuple(CHOICES), correct=1, opened_at_ms=0,
                        asked_by="t")
    hints = await LocalHintProvider().hints(question)
    assert len(hints) == 3
    assert "Carbon dioxide" not in hints[0] and "Carbon dioxide" not in hints[1]
    assert "Carbon dioxide" in hints[2]


async def test_local_evaluator_partial_overlap_is_not_correct():
    question = Question(id="q", text="Why?", kind="free", correct="light water carbon dioxide",
                        opened_at_ms=0, asked_by="t")
    answer = Answer(id="a", question_id="q", user_id="u", name="U", text="light only",
                    client_id="c", submitted_at_ms=0)
    result = await LocalEvaluator().evaluate(question, answer, now_ms=1)
    assert result.correct is False and 0 < result.score < 0.6
    assert "water" in result.feedback or "carbon" in result.feedback


async def test_automatic_hint_rule_helps_only_wrong_answers(ix_server: IxHarness):
    teacher, t_rec = await join(ix_server, "teacher", "teacher")
    (right, right_rec), (wrong, wrong_rec) = [await join(ix_server, u) for u in ("ri", "wr")]
    ack = await teacher.request({"type": "question.ask", "text": "Which gas do plants take in?",
                                 "choices": CHOICES, "correct": 1, "auto_hint": True})
    qid = ack["question"]["id"]
    assert ack["question"]["auto_hint"] is True
    await t_rec.wait("hints.ready", where=lambda p: p["question_id"] == qid)
    await right.request({"type": "answer.submit", "question_id": qid, "choice": 1})
    await wrong.request({"type": "answer.submit", "question_id": qid, "choice": 0})
    (hint,) = await wrong_rec.wait("hint")
    assert hint["payload"]["level"] == 0 and hint["payload"]["question_id"] == qid
    assert hint["payload"]["from"]["name"] == "automatic hint"
    await t_rec.wait("answer.evaluated", 2)
    await asyncio.sleep(0.3)
    assert not right_rec.of("hint")
