"""Session store on Redis, shared by several server processes.

Layout per session (the ``{id}`` hash tag keeps the keys in one cluster slot)::

    <prefix>session:{<id>}               string: the record as JSON, without the histories
    <prefix>session:{<id>}:content       list: content history entries, one JSON each
    <prefix>session:{<id>}:interaction   list: interaction history entries
    <prefix>session:{<id>}:claims        set: handled client message ids, JSON [user, id]
    <prefix>session:{<id>}:cursors       hash: user id -> highest seq delivered
    <prefix>session:{<id>}:participants  hash: user id -> the participant as JSON

Why this split: the document is small and mutated in nested places (a group's
members, one context key), which a Lua script does atomically by decoding,
changing and re-encoding one JSON value with ``cjson`` -- no WATCH retry loops.
What grows with the class stays out of it: each participant is one field of
its own hash, so a join or a leave decodes and writes one small JSON value
(O(1), whatever the class size; the whole document used to be re-encoded, 2.7 ms
at 1,000 participants, serialised for all processes). The histories only ever
get appended to, so they are lists: RPUSH + LTRIM is atomic and O(1) per append.

Values the caller chose stay opaque to Lua: each ``ai_context`` value is
stored as its own JSON string inside the document, and each history entry is
a JSON string in its list. Redis' cjson turns an empty array into ``{}`` and
rounds numbers to 14 digits, so it must never re-encode user data; the
document's own fields are strings, small integers, ms timestamps (13 digits)
and non-empty member lists (an empty group is deleted).

Every mutation is one script: it checks the session exists, changes it, and
refreshes the expiry of all six keys (``SESSION_TTL_S`` after the last
write; claims and cursors also refresh it, as they may be written without
one). ``get`` reads the first three keys in one MULTI, so it sees one state.
Timestamps come from Python, as in :class:`~rtc_server.state.memory_store.MemoryStore`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict
from typing import Any, Literal

from redis.asyncio import Redis

from rtc_server.base.exceptions import InvalidRequest, SessionExists, SessionNotFound
from rtc_server.base.protocol import dumps
from rtc_server.base.protocol import now_ms as _now_ms

from .store import (
    EDITABLE_FIELDS,
    HISTORY_MAX,
    SESSION_TTL_S,
    Participant,
    SessionRecord,
    SessionStatus,
    SessionStore,
    new_join_code,
    taken_message,
)
from .unavailable import redis_errors_as_unavailable

#: A process that has not renewed its lease for this long is dead: the others take its
#: connections out of the presence counts and tell the teachers ("dropped").
PROCESS_LEASE_MS = 15_000

# Shared by every script. KEYS: document, content list, interaction list, claims, cursors,
# participants.
# ARGV[1]: ttl in seconds, ARGV[2]: now in ms; the rest belongs to the script.
_PRELUDE = """
local function load()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return nil end
  return cjson.decode(raw)
end
local function save(doc)
  local encoded = cjson.encode(doc)
  redis.call('SET', KEYS[1], encoded, 'EX', ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[1])
  redis.call('EXPIRE', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[5], ARGV[1])
  redis.call('EXPIRE', KEYS[6], ARGV[1])
  return encoded
end
local function snapshot(encoded)
  return {encoded, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('LRANGE', KEYS[3], 0, -1)}
end
local now = tonumber(ARGV[2])
"""

# ARGV[3]: document; ARGV[4]: number of content entries; then content, then interaction entries.
_CREATE = """
local raw = redis.call('GET', KEYS[1])
if raw then return cjson.decode(raw).status end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[6])
local ncontent = tonumber(ARGV[4])
for i = 5, 4 + ncontent do redis.call('RPUSH', KEYS[2], ARGV[i]) end
for i = 5 + ncontent, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[1])
redis.call('EXPIRE', KEYS[6], ARGV[1])
return 1
"""

# ARGV[3]: JSON object of editable fields (checked in Python).
_UPDATE = """
local doc = load()
if not doc then return false end
for k, v in pairs(cjson.decode(ARGV[3])) do doc[k] = v end
doc.updated_at_ms = now
return snapshot(save(doc))
"""

# ARGV[3..]: key, JSON value, key, JSON value, ...
_UPDATE_CONTEXT = """
local doc = load()
if not doc then return false end
for i = 3, #ARGV, 2 do doc.ai_context[ARGV[i]] = ARGV[i + 1] end
doc.updated_at_ms = now
return snapshot(save(doc))
"""

_REOPEN = """
local doc = load()
if not doc then return false end
doc.status = 'active'
doc.tokens_after_ms = now
doc.updated_at_ms = now
return snapshot(save(doc))
"""

_END = """
local doc = load()
if not doc then return false end
doc.status = 'ended'
doc.updated_at_ms = now
return snapshot(save(doc))
"""

# ARGV[3..8]: user id, name, role, delta, device, process id. One hash field: O(1) in the
# class size. Connections are counted per server process (``procs``), so that the
# connections of a process that died can be taken away by the others. Returns the
# participant as JSON.
_CHANGE_CONNECTIONS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local uid = ARGV[3]
local raw = redis.call('HGET', KEYS[6], uid)
local part
if raw then
  part = cjson.decode(raw)
else
  part = {user_id = uid, name = ARGV[4], role = ARGV[5], connections = 0, last_seen_ms = 0,
          device = '', removed = false}
end
if type(part.procs) ~= 'table' then part.procs = {} end
local proc = ARGV[8]
local mine = math.max(0, (tonumber(part.procs[proc]) or 0) + tonumber(ARGV[6]))
if mine == 0 then part.procs[proc] = nil else part.procs[proc] = mine end
local total = 0
for _, n in pairs(part.procs) do total = total + n end
part.connections = total
part.last_seen_ms = now
if ARGV[4] ~= '' then part.name = ARGV[4] end
if ARGV[7] ~= '' then part.device = ARGV[7] end
local encoded = cjson.encode(part)
redis.call('HSET', KEYS[6], uid, encoded)
-- A class that only joins and leaves is alive: keep all of its keys (O(1) each).
for i = 1, 6 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
return encoded
"""

# KEYS[1]: participants hash. ARGV[1]: a process that died. Takes its connections away from
# every participant (O(class size): only when a process died). Returns the changed ones.
_REAP = """
local changed = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local part = cjson.decode(all[i + 1])
  if type(part.procs) == 'table' and part.procs[ARGV[1]] then
    part.procs[ARGV[1]] = nil
    local total = 0
    for _, n in pairs(part.procs) do total = total + n end
    part.connections = total
    local encoded = cjson.encode(part)
    redis.call('HSET', KEYS[1], all[i], encoded)
    table.insert(changed, encoded)
  end
end
return changed
"""

# ARGV[3]: user id. Marks the participant removed (creating it). Returns it as JSON.
_REMOVE_PARTICIPANT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local uid = ARGV[3]
local raw = redis.call('HGET', KEYS[6], uid)
local part
if raw then
  part = cjson.decode(raw)
else
  part = {user_id = uid, name = uid, role = 'student', connections = 0, last_seen_ms = 0,
          device = ''}
end
part.removed = true
local encoded = cjson.encode(part)
redis.call('HSET', KEYS[6], uid, encoded)
redis.call('EXPIRE', KEYS[6], ARGV[1])
return encoded
"""

# ARGV[3]: group, ARGV[4]: number of ids to add; then those, then the ids to remove.
# Returns the members after the change as an array (empty: the group is gone).
_SET_GROUP = """
local doc = load()
if not doc then return false end
local group = ARGV[3]
local nadd = tonumber(ARGV[4])
local members = doc.groups[group] or {}
local present = {}
for _, m in ipairs(members) do present[m] = true end
for i = 5, 4 + nadd do
  if not present[ARGV[i]] then
    table.insert(members, ARGV[i])
    present[ARGV[i]] = true
  end
end
local removed = {}
for i = 5 + nadd, #ARGV do removed[ARGV[i]] = true end
local kept = {}
for _, m in ipairs(members) do
  if not removed[m] then table.insert(kept, m) end
end
if #kept == 0 then
  -- As MemoryStore: dropping the group does not count as an update.
  doc.groups[group] = nil
  save(doc)
  return {}
end
doc.groups[group] = kept
doc.updated_at_ms = now
save(doc)
return kept
"""

# ARGV[3]: index of the list in KEYS (2 or 3), ARGV[4]: entry, ARGV[5]: HISTORY_MAX.
_APPEND_HISTORY = """
local doc = load()
if not doc then return 0 end
local list = KEYS[tonumber(ARGV[3])]
redis.call('RPUSH', list, ARGV[4])
redis.call('LTRIM', list, -tonumber(ARGV[5]), -1)
doc.updated_at_ms = now
save(doc)
return 1
"""

# KEYS: cursors hash. ARGV: ttl, user id, seq. Keeps the larger seq.
_SET_CURSOR = """
local seq = tonumber(ARGV[3])
if seq > tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""


def _encode(record: SessionRecord) -> str:
    """The document: the record without histories, context values as opaque JSON strings."""
    data = asdict(record)
    del data["content_history"], data["interaction_history"], data["history_counts"]
    del data["participants"]
    data["ai_context"] = {key: dumps(value) for key, value in record.ai_context.items()}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _decode(document: str, content: list[str], interaction: list[str],
            participants: dict[str, str] | None = None,
            counts: tuple[int, int] | None = None) -> SessionRecord:
    data = json.loads(document)
    data.pop("participants", None)  # never in the document (they have their own hash)
    if participants is not None:
        data["participants"] = [asdict(_participant(raw)) for raw in participants.values()]
    data["ai_context"] = {key: json.loads(value) for key, value in data["ai_context"].items()}
    # cjson writes an empty Lua table as {}: an empty member list would come back as a dict.
    data["groups"] = {
        name: members if isinstance(members, list) else []
        for name, members in data["groups"].items()
    }
    data["content_history"] = [json.loads(entry) for entry in content]
    data["interaction_history"] = [json.loads(entry) for entry in interaction]
    record = SessionRecord.from_json(data)
    record.history_counts = counts
    return record


def _participant(raw: str) -> Participant:
    data = json.loads(raw)
    return Participant(user_id=data["user_id"], name=data["name"], role=data["role"],
                       connections=int(data.get("connections", 0)),
                       last_seen_ms=int(data.get("last_seen_ms", 0)),
                       device=str(data.get("device") or ""),
                       removed=bool(data.get("removed", False)))


@redis_errors_as_unavailable
class RedisStore(SessionStore):
    """Sessions in Redis; each mutation is one Lua script, so atomic across processes."""

    def __init__(self, client: Redis, *, key_prefix: str = "crtc:",
                 ttl_s: int = SESSION_TTL_S) -> None:
        self._prefix = key_prefix
        self._ttl_s = ttl_s
        self._redis = client  # shared, owned by the Storage (decode_responses=True)
        script = self._redis.register_script
        self._create = script(_CREATE)
        self._update = script(_PRELUDE + _UPDATE)
        self._update_context = script(_PRELUDE + _UPDATE_CONTEXT)
        self._end = script(_PRELUDE + _END)
        self._reopen = script(_PRELUDE + _REOPEN)
        self._change_connections = script(_PRELUDE + _CHANGE_CONNECTIONS)
        self._remove_participant = script(_PRELUDE + _REMOVE_PARTICIPANT)
        self._reap = script(_REAP)
        #: This server process, in presence counts (see heartbeat / reap_dead).
        self.process_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._set_group = script(_PRELUDE + _SET_GROUP)
        self._append_history = script(_PRELUDE + _APPEND_HISTORY)
        self._set_cursor = script(_SET_CURSOR)

    def __repr__(self) -> str:
        return f"RedisStore({self._prefix!r})"

    def _keys(self, session_id: str) -> list[str]:
        base = f"{self._prefix}session:{{{session_id}}}"
        return [
            base,
            f"{base}:content",
            f"{base}:interaction",
            f"{base}:claims",
            f"{base}:cursors",
            f"{base}:participants",
        ]

    async def _run(self, script: Any, session_id: str, *args: Any) -> Any:
        return await script(keys=self._keys(session_id), args=[self._ttl_s, _now_ms(), *args])

    def _record(self, session_id: str, reply: Any) -> SessionRecord:
        if not reply:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        document, content, interaction = reply
        return _decode(document, content, interaction)

    async def create(self, record: SessionRecord) -> SessionRecord:
        now = _now_ms()
        record.created_at_ms = record.created_at_ms or now
        record.updated_at_ms = now
        content = [dumps(entry) for entry in record.content_history]
        interaction = [dumps(entry) for entry in record.interaction_history]
        created = await self._create(
            keys=self._keys(record.id),
            args=[self._ttl_s, now, _encode(record), len(content), *content, *interaction],
        )
        if created != 1:
            raise SessionExists(taken_message(record.id, str(created)))
        return record

    async def get(self, session_id: str, *, history: bool = True,
                  participants: bool = False) -> SessionRecord | None:
        document_key, content_key, interaction_key, _, _, parts_key = self._keys(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(document_key)
            if history:
                pipe.lrange(content_key, 0, -1)
                pipe.lrange(interaction_key, 0, -1)
            else:
                pipe.llen(content_key)
                pipe.llen(interaction_key)
            if participants:
                pipe.hgetall(parts_key)
            document, content, interaction, *rest = await pipe.execute()
        if document is None:
            return None
        parts = rest[0] if participants else None
        if history:
            return _decode(document, content, interaction, parts)
        return _decode(document, [], [], parts, counts=(int(content), int(interaction)))

    async def status(self, session_id: str) -> SessionStatus | None:
        # Only the small document, not the histories; parsed without building a record.
        document = await self._redis.get(self._keys(session_id)[0])
        if document is None:
            return None
        status = json.loads(document).get("status")
        return "ended" if status == "ended" else "active"

    async def update(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        bad = set(changes) - EDITABLE_FIELDS
        if bad:
            raise InvalidRequest(f"fields {sorted(bad)} cannot be changed")
        reply = await self._run(self._update, session_id, json.dumps(changes))
        return self._record(session_id, reply)

    async def update_context(self, session_id: str, changes: dict[str, Any]) -> SessionRecord:
        pairs = [item for key, value in changes.items() for item in (key, dumps(value))]
        reply = await self._run(self._update_context, session_id, *pairs)
        return self._record(session_id, reply)

    async def reopen(self, session_id: str, now_ms: int) -> SessionRecord:
        reply = await self._reopen(keys=self._keys(session_id), args=[self._ttl_s, now_ms])
        return self._record(session_id, reply)

    async def end(self, session_id: str) -> SessionRecord:
        return self._record(session_id, await self._run(self._end, session_id))

    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int,
        device: str = "",
    ) -> Participant:
        reply = await self._change_connections(
            keys=self._keys(session_id),
            args=[self._ttl_s, now_ms, user_id, name, role, delta, device, self.process_id],
        )
        if delta > 0:  # which sessions this process holds connections of (for reaping)
            await self._redis.sadd(self._proc_key(self.process_id, "sessions"), session_id)
        if reply is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return _participant(reply)

    async def assign_join_code(self, session_id: str) -> str:
        for _ in range(20):  # 31^6 codes: a clash is rare; SET NX makes it safe
            code = new_join_code()
            if await self._redis.set(f"{self._prefix}code:{code}", session_id, nx=True,
                                     ex=self._ttl_s):
                await self._run(self._update, session_id, json.dumps({"join_code": code}))
                return code
        raise RuntimeError("no free join code after 20 tries")

    async def session_for_code(self, code: str) -> str | None:
        value = await self._redis.get(f"{self._prefix}code:{code}")
        return str(value) if value is not None else None

    def _proc_key(self, process_id: str, part: str = "") -> str:
        return f"{self._prefix}proc:{process_id}" + (f":{part}" if part else "")

    async def heartbeat(self, now_ms: int) -> None:
        """This process is alive (every few seconds; see :data:`PROCESS_LEASE_MS`)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(f"{self._prefix}procs", self.process_id, now_ms)
            pipe.expire(self._proc_key(self.process_id, "sessions"), self._ttl_s)
            await pipe.execute()

    async def reap_dead(self, now_ms: int) -> list[tuple[str, Participant]]:
        """Take away the connections of processes whose lease ran out; return the changed
        participants (each process does this; one wins each dead process)."""
        procs = await self._redis.hgetall(f"{self._prefix}procs")
        reaped: list[tuple[str, Participant]] = []
        for raw_id, beat in procs.items():
            process_id = str(raw_id)
            if process_id == self.process_id or now_ms - int(beat) < PROCESS_LEASE_MS:
                continue
            if not await self._redis.set(self._proc_key(process_id, "reaping"), self.process_id,
                                         nx=True, ex=60):
                continue
            sessions = await self._redis.smembers(self._proc_key(process_id, "sessions"))
            for session_id in sessions:
                changed = await self._reap(keys=[self._keys(str(session_id))[5]],
                                           args=[process_id])
                reaped += [(str(session_id), _participant(str(raw))) for raw in changed]
            await self._redis.delete(self._proc_key(process_id, "sessions"))
            await self._redis.hdel(f"{self._prefix}procs", process_id)
        return reaped

    async def publish_worker(self, status: dict[str, Any], *, now_ms: int,
                             ttl_ms: int) -> None:
        """One hash of every process's status, each stamped with when it expires: read in
        one call, and a process that stopped renewing drops out at that time (whoever
        reads next deletes it)."""
        entry = json.dumps({"expires_ms": now_ms + ttl_ms, "status": status})
        await self._redis.hset(f"{self._prefix}workers", self.process_id, entry)

    async def withdraw_worker(self) -> None:
        await self._redis.hdel(f"{self._prefix}workers", self.process_id)

    async def live_workers(self, now_ms: int) -> list[dict[str, Any]]:
        raw = await self._redis.hgetall(f"{self._prefix}workers")
        live: list[dict[str, Any]] = []
        expired: list[str] = []
        for process_id, value in raw.items():
            if str(process_id) == self.process_id:
                continue
            entry = json.loads(value)
            if int(entry["expires_ms"]) <= now_ms:
                expired.append(str(process_id))
            else:
                live.append(entry["status"])
        if expired:
            await self._redis.hdel(f"{self._prefix}workers", *expired)
        return live

    async def get_participant(self, session_id: str, user_id: str) -> Participant | None:
        raw = await self._redis.hget(self._keys(session_id)[5], user_id)
        return _participant(str(raw)) if raw is not None else None

    async def remove_participant(self, session_id: str, user_id: str) -> Participant:
        reply = await self._run(self._remove_participant, session_id, user_id)
        if reply is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return _participant(reply)

    async def set_group(
        self, session_id: str, group: str, *, add: list[str], remove: list[str]
    ) -> list[str]:
        reply = await self._run(self._set_group, session_id, group, len(add), *add, *remove)
        if reply is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return list(reply)

    async def append_history(
        self, session_id: str, kind: Literal["content", "interaction"], entry: dict[str, Any]
    ) -> None:
        index = 2 if kind == "content" else 3
        appended = await self._run(
            self._append_history, session_id, index, dumps(entry), HISTORY_MAX
        )
        if not appended:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    async def recent_history(
        self, session_id: str, kind: Literal["content", "interaction"], limit: int
    ) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        key = self._keys(session_id)[1 if kind == "content" else 2]
        return [json.loads(entry) for entry in await self._redis.lrange(key, -limit, -1)]

    async def claim_message(self, session_id: str, user_id: str, message_id: str) -> bool:
        claims_key = self._keys(session_id)[3]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(claims_key, json.dumps([user_id, message_id]))
            pipe.expire(claims_key, self._ttl_s)
            added, _ = await pipe.execute()
        return bool(added)

    async def release_message(self, session_id: str, user_id: str, message_id: str) -> None:
        await self._redis.srem(self._keys(session_id)[3], json.dumps([user_id, message_id]))

    async def set_cursor(self, session_id: str, user_id: str, seq: int) -> None:
        await self._set_cursor(keys=[self._keys(session_id)[4]], args=[self._ttl_s, user_id, seq])

    async def get_cursor(self, session_id: str, user_id: str) -> int:
        return int(await self._redis.hget(self._keys(session_id)[4], user_id) or 0)

    async def close(self) -> None:
        """The client belongs to the Storage; nothing of this store's own to release."""
