"""Interaction state in Redis, shared by several server processes.

Keys per session (the ``{id}`` hash tag keeps them in one cluster slot)::

    <prefix>ix:{<id>}:q      hash question id -> question JSON (as asked; never rewritten)
    <prefix>ix:{<id>}:qs     hash question id -> "open" | "closed|<ms>|<reason>"
    <prefix>ix:{<id>}:qc     hash question id -> closes_at_ms ("" without a time limit)
    <prefix>ix:{<id>}:a      hash "<question id>|<user>" -> answer JSON (HSETNX-like, in Lua)
    <prefix>ix:{<id>}:e      hash answer id -> evaluation JSON
    <prefix>ix:{<id>}:h      hash question id -> hints JSON
    <prefix>ix:{<id>}:help   hash help id -> request JSON (the queue)
    <prefix>ix:{<id>}:helpu  hash user -> open help id (one open request per user)
    <prefix>ix:{<id>}:p      hash poll id -> poll JSON (as opened)
    <prefix>ix:{<id>}:ps     hash poll id -> "open" | "closed|<ms>"
    <prefix>ix:{<id>}:v      hash "<poll id>|<user>" -> option index
    <prefix>ix:{<id>}:b      list of "<board seq> <entry JSON>"; seq = position + 1
    <prefix>ix:{<id>}:bids   hash "<user>|<client id>" -> board seq (resend dedupe)
    <prefix>ix:{<id>}:meta   hash: board_students "1"/"0"

Why: status lives apart from the documents so that a Lua script can check
and flip it without decoding and re-encoding user JSON (Redis' cjson mangles
empty arrays and long numbers). Each check-then-write (answer, vote, close,
help, board op) is one script, so it is atomic across processes. Every write
refreshes the expiry of all the session's keys, so they expire together
``ttl_s`` after the last interaction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal, cast

from redis.asyncio import Redis

from rtc_server.state.unavailable import redis_errors_as_unavailable

from .help import HelpRequest
from .polls import Poll
from .questions import Answer, Evaluation, Question
from .store import (
    BOARD_MAX_OPS,
    INTERACTION_TTL_S,
    BoardEntry,
    InteractionStore,
    SubmitResult,
    VoteResult,
    board_full_error,
)

__all__ = ["RedisInteractionStore"]

_KEYS = ("q", "qs", "qc", "a", "e", "h", "help", "helpu", "p", "ps", "v", "b", "bids", "meta")
_K = {name: i for i, name in enumerate(_KEYS)}

# Every script gets all the session's keys (in _KEYS order) and ARGV[1] = ttl in seconds.
_PRELUDE = """
local function touch()
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
end
"""

# ARGV: qid, now_ms, reason. Returns the question JSON, or false if not open.
_CLOSE_QUESTION = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= 'open' then return false end
redis.call('HSET', KEYS[2], ARGV[2], 'closed|' .. ARGV[3] .. '|' .. ARGV[4])
touch()
return redis.call('HGET', KEYS[1], ARGV[2])
"""

# ARGV: qid, answer field, now_ms, answer JSON. Returns {status[, first answer JSON]}.
_SUBMIT = """
local st = redis.call('HGET', KEYS[2], ARGV[2])
if not st then return {'unknown'} end
local first = redis.call('HGET', KEYS[4], ARGV[3])
if first then return {'duplicate', first} end
if st ~= 'open' then return {'closed'} end
local closes = redis.call('HGET', KEYS[3], ARGV[2])
if closes and closes ~= '' and tonumber(ARGV[4]) > tonumber(closes) then return {'late'} end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[5])
touch()
return {'stored'}
"""

# ARGV: poll id, vote field, option. Returns {status, previous option or ''}.
_VOTE = """
local st = redis.call('HGET', KEYS[10], ARGV[2])
if not st then return {'unknown', ''} end
if st ~= 'open' then return {'closed', ''} end
local prev = redis.call('HGET', KEYS[11], ARGV[3])
redis.call('HSET', KEYS[11], ARGV[3], ARGV[4])
touch()
return {'ok', prev or ''}
"""

# ARGV: poll id, now_ms. Returns the poll JSON, or false if not open.
_CLOSE_POLL = """
if redis.call('HGET', KEYS[10], ARGV[2]) ~= 'open' then return false end
redis.call('HSET', KEYS[10], ARGV[2], 'closed|' .. ARGV[3])
touch()
return redis.call('HGET', KEYS[9], ARGV[2])
"""

# ARGV: user, help id, request JSON. Returns {1 added | 0 existing, request JSON}.
_ADD_HELP = """
local open = redis.call('HGET', KEYS[8], ARGV[2])
if open then
  local doc = redis.call('HGET', KEYS[7], open)
  if doc then return {0, doc} end
end
redis.call('HSET', KEYS[7], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[8], ARGV[2], ARGV[3])
touch()
return {1, ARGV[4]}
"""

# ARGV: help id. Returns the removed request JSON, or false.
_RESOLVE_HELP = """
local doc = redis.call('HGET', KEYS[7], ARGV[2])
if not doc then return false end
local user = cjson.decode(doc).user_id
redis.call('HDEL', KEYS[7], ARGV[2])
if redis.call('HGET', KEYS[8], user) == ARGV[2] then redis.call('HDEL', KEYS[8], user) end
touch()
return doc
"""

# ARGV: dedupe field, max ops, entry JSON. Returns {1, seq} | {0, seq, stored} | {-1}.
_BOARD_OP = """
local seen = redis.call('HGET', KEYS[13], ARGV[2])
if seen then return {0, tonumber(seen), redis.call('LINDEX', KEYS[12], tonumber(seen) - 1)} end
local n = redis.call('LLEN', KEYS[12])
if n >= tonumber(ARGV[3]) then return {-1} end
local seq = n + 1
redis.call('RPUSH', KEYS[12], seq .. ' ' .. ARGV[4])
redis.call('HSET', KEYS[13], ARGV[2], seq)
touch()
return {1, seq}
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _question(doc: str, status: str | None) -> Question:
    question = Question.from_json(json.loads(doc))
    if status and status.startswith("closed|"):
        _, at, reason = status.split("|", 2)
        question = replace(question, status="closed", closed_at_ms=int(at), close_reason=reason)
    return question


def _poll(doc: str, status: str | None) -> Poll:
    poll = Poll.from_json(json.loads(doc))
    if status and status.startswith("closed|"):
        poll = replace(poll, status="closed", closed_at_ms=int(status.split("|", 1)[1]))
    return poll


def _entry(raw: str) -> BoardEntry:
    seq, doc = raw.split(" ", 1)
    data = json.loads(doc)
    return BoardEntry(seq=int(seq), by=data["by"], client_id=data["client_id"],
                      ts_ms=data["ts_ms"], op=data["op"])


@redis_errors_as_unavailable
class RedisInteractionStore(InteractionStore):
    def __init__(
        self, client: Redis, *, key_prefix: str = "crtc:", ttl_s: int = INTERACTION_TTL_S
    ) -> None:
        self._redis = client  # shared, owned by the Storage (decode_responses=True)
        self._prefix = key_prefix
        self.ttl_s = ttl_s
        self._scripts = {
            name: self._redis.register_script(_PRELUDE + body)
            for name, body in (("close_question", _CLOSE_QUESTION), ("submit", _SUBMIT),
                               ("vote", _VOTE), ("close_poll", _CLOSE_POLL),
                               ("add_help", _ADD_HELP), ("resolve_help", _RESOLVE_HELP),
                               ("board_op", _BOARD_OP))
        }

    def __repr__(self) -> str:
        return f"RedisInteractionStore({self._prefix!r})"

    def _keys(self, session_id: str) -> list[str]:
        base = f"{self._prefix}ix:{{{session_id}}}:"
        return [base + name for name in _KEYS]

    def _key(self, session_id: str, name: str) -> str:
        return self._keys(session_id)[_K[name]]

    async def _run(self, script: str, session_id: str, *args: Any) -> Any:
        return await self._scripts[script](keys=self._keys(session_id),
                                           args=[self.ttl_s, *args])

    async def _write(self, session_id: str, writes: list[tuple[str, str, str]]) -> None:
        """HSET each ``(key name, field, value)`` and refresh the expiry, in one MULTI."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, field, value in writes:
                pipe.hset(self._key(session_id, name), field, value)
            for key in self._keys(session_id):
                pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def _hgetall(self, session_id: str, *names: str) -> list[dict[str, str]]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in names:
                pipe.hgetall(self._key(session_id, name))
            return cast(list[dict[str, str]], await pipe.execute())

    # -- questions and answers -----------------------------------------------------------------

    async def add_question(self, session_id: str, question: Question) -> None:
        closes = "" if question.closes_at_ms is None else str(question.closes_at_ms)
        await self._write(session_id, [
            ("q", question.id, _dumps(question.to_json(full=True))),
            ("qs", question.id, "open"), ("qc", question.id, closes),
        ])

    async def get_question(self, session_id: str, question_id: str) -> Question | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._key(session_id, "q"), question_id)
            pipe.hget(self._key(session_id, "qs"), question_id)
            doc, status = await pipe.execute()
        return None if doc is None else _question(doc, status)

    async def questions(self, session_id: str) -> list[Question]:
        docs, statuses = await self._hgetall(session_id, "q", "qs")
        found = [_question(doc, statuses.get(qid)) for qid, doc in docs.items()]
        return sorted(found, key=lambda q: (q.opened_at_ms, q.id))

    async def close_question(
        self, session_id: str, question_id: str, *, reason: str, now_ms: int
    ) -> Question | None:
        doc = await self._run("close_question", session_id, question_id, now_ms, reason)
        if doc is None:
            return None
        return _question(doc, f"closed|{now_ms}|{reason}")

    async def submit_answer(self, session_id: str, answer: Answer, *, now_ms: int) -> SubmitResult:
        result = await self._run("submit", session_id, answer.question_id,
                                 f"{answer.question_id}|{answer.user_id}", now_ms,
                                 _dumps(answer.to_json()))
        status = cast(Literal["stored", "duplicate", "closed", "late", "unknown"], result[0])
        if status == "stored":
            return SubmitResult("stored", answer)
        if status == "duplicate":
            return SubmitResult("duplicate", Answer.from_json(json.loads(result[1])))
        return SubmitResult(status)

    async def answers(self, session_id: str, question_id: str) -> list[Answer]:
        (docs,) = await self._hgetall(session_id, "a")
        found = [Answer.from_json(json.loads(doc)) for field, doc in docs.items()
                 if field.split("|", 1)[0] == question_id]
        return sorted(found, key=lambda a: (a.submitted_at_ms, a.id))

    async def answers_of(self, session_id: str, user_id: str) -> list[Answer]:
        (docs,) = await self._hgetall(session_id, "a")
        found = [Answer.from_json(json.loads(doc)) for field, doc in docs.items()
                 if field.split("|", 1)[1] == user_id]
        return sorted(found, key=lambda a: (a.submitted_at_ms, a.id))

    async def put_evaluation(self, session_id: str, evaluation: Evaluation) -> None:
        await self._write(session_id, [("e", evaluation.answer_id,
                                        _dumps(evaluation.to_json()))])

    async def evaluations(self, session_id: str, question_id: str) -> list[Evaluation]:
        (docs,) = await self._hgetall(session_id, "e")
        found = [Evaluation.from_json(json.loads(doc)) for doc in docs.values()]
        return sorted((e for e in found if e.question_id == question_id),
                      key=lambda e: (e.evaluated_at_ms, e.answer_id))

    async def put_hints(self, session_id: str, question_id: str, hints: list[str]) -> None:
        await self._write(session_id, [("h", question_id, _dumps(hints))])

    async def get_hints(self, session_id: str, question_id: str) -> list[str] | None:
        doc = await self._redis.hget(self._key(session_id, "h"), question_id)
        return None if doc is None else list(json.loads(doc))

    # -- help ----------------------------------------------------------------------------------

    async def add_help(self, session_id: str, request: HelpRequest) -> tuple[HelpRequest, bool]:
        added, doc = await self._run("add_help", session_id, request.user_id, request.id,
                                     _dumps(request.to_json()))
        return HelpRequest.from_json(json.loads(doc)), bool(added)

    async def resolve_help(self, session_id: str, help_id: str) -> HelpRequest | None:
        doc = await self._run("resolve_help", session_id, help_id)
        return None if doc is None else HelpRequest.from_json(json.loads(doc))

    async def help_queue(self, session_id: str) -> list[HelpRequest]:
        (docs,) = await self._hgetall(session_id, "help")
        return [HelpRequest.from_json(json.loads(doc)) for doc in docs.values()]

    # -- polls ---------------------------------------------------------------------------------

    async def add_poll(self, session_id: str, poll: Poll) -> None:
        await self._write(session_id, [("p", poll.id, _dumps(poll.to_json())),
                                       ("ps", poll.id, "open")])

    async def get_poll(self, session_id: str, poll_id: str) -> Poll | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._key(session_id, "p"), poll_id)
            pipe.hget(self._key(session_id, "ps"), poll_id)
            doc, status = await pipe.execute()
        return None if doc is None else _poll(doc, status)

    async def polls(self, session_id: str) -> list[Poll]:
        docs, statuses = await self._hgetall(session_id, "p", "ps")
        found = [_poll(doc, statuses.get(pid)) for pid, doc in docs.items()]
        return sorted(found, key=lambda p: (p.opened_at_ms, p.id))

    async def vote(self, session_id: str, poll_id: str, user_id: str, option: int) -> VoteResult:
        status, previous = await self._run("vote", session_id, poll_id, f"{poll_id}|{user_id}",
                                           option)
        return VoteResult(status, int(previous) if previous != "" else None)

    async def votes(self, session_id: str, poll_id: str) -> dict[str, int]:
        (docs,) = await self._hgetall(session_id, "v")
        out: dict[str, int] = {}
        for field, option in docs.items():
            pid, user = field.split("|", 1)
            if pid == poll_id:
                out[user] = int(option)
        return out

    async def close_poll(self, session_id: str, poll_id: str, *, now_ms: int) -> Poll | None:
        doc = await self._run("close_poll", session_id, poll_id, now_ms)
        return None if doc is None else _poll(doc, f"closed|{now_ms}")

    # -- board ---------------------------------------------------------------------------------

    async def append_board_op(
        self, session_id: str, *, by: str, client_id: str, op: dict[str, Any], now_ms: int,
        max_ops: int = BOARD_MAX_OPS,
    ) -> tuple[BoardEntry, bool]:
        doc = _dumps({"by": by, "client_id": client_id, "ts_ms": now_ms, "op": op})
        result = await self._run("board_op", session_id, f"{by}|{client_id}", max_ops, doc)
        if result[0] == -1:
            raise board_full_error(max_ops)
        if result[0] == 0:
            return _entry(result[2]), False
        return BoardEntry(seq=int(result[1]), by=by, client_id=client_id, ts_ms=now_ms,
                          op=op), True

    async def board_ops(self, session_id: str, after_seq: int = 0) -> list[BoardEntry]:
        raw = await self._redis.lrange(self._key(session_id, "b"), max(after_seq, 0), -1)
        return [_entry(str(line)) for line in raw]

    async def set_board_students(self, session_id: str, allowed: bool) -> None:
        await self._write(session_id, [("meta", "board_students", "1" if allowed else "0")])

    async def board_students(self, session_id: str) -> bool:
        return await self._redis.hget(self._key(session_id, "meta"), "board_students") == "1"

    async def close(self) -> None:
        """The client belongs to the Storage; nothing of this store's own to release."""
