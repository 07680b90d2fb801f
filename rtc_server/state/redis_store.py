"""Session store on Redis, shared by several server processes.

Layout per session (the ``{id}`` hash tag keeps the keys in one cluster slot)::

    <prefix>session:{<id>}               string: the record as JSON, without the histories
    <prefix>session:{<id>}:content       list: content history entries, one JSON each
    <prefix>session:{<id>}:interaction   list: interaction history entries
    <prefix>session:{<id>}:claims        set: handled client message ids, JSON [user, id]
    <prefix>session:{<id>}:cursors       hash: user id -> highest seq delivered

Why this split: everything but the histories is small and mutated in nested
places (a participant's counter, a group's members, one context key), which a
Lua script does atomically by decoding, changing and re-encoding one JSON
value with ``cjson`` -- no key per participant, no WATCH retry loops. The
histories are the only part that grows (up to ``HISTORY_MAX`` each) and only
ever get appended to, so they are lists: RPUSH + LTRIM is atomic and O(1) per
append, and appending does not re-encode hundreds of entries.

Values the caller chose stay opaque to Lua: each ``ai_context`` value is
stored as its own JSON string inside the document, and each history entry is
a JSON string in its list. Redis' cjson turns an empty array into ``{}`` and
rounds numbers to 14 digits, so it must never re-encode user data; the
document's own fields are strings, small integers, ms timestamps (13 digits)
and non-empty member lists (an empty group is deleted).

Every mutation is one script: it checks the session exists, changes it, and
refreshes the expiry of all five keys (``SESSION_TTL_S`` after the last
write; claims and cursors also refresh it, as they may be written without
one). ``get`` reads the first three keys in one MULTI, so it sees one state.
Timestamps come from Python, as in :class:`~rtc_server.state.memory_store.MemoryStore`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Literal

from redis.asyncio import Redis

from rtc_server.base.exceptions import InvalidRequest, SessionNotFound
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
)

# Shared by every script. KEYS: document, content list, interaction list, claims, cursors.
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
if raw and cjson.decode(raw).status == 'active' then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
local ncontent = tonumber(ARGV[4])
for i = 5, 4 + ncontent do redis.call('RPUSH', KEYS[2], ARGV[i]) end
for i = 5 + ncontent, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[5], ARGV[1])
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

_END = """
local doc = load()
if not doc then return false end
doc.status = 'ended'
doc.updated_at_ms = now
return snapshot(save(doc))
"""

# ARGV[3..6]: user id, name, role, delta. Returns the participant as JSON.
_CHANGE_CONNECTIONS = """
local doc = load()
if not doc then return false end
local uid = ARGV[3]
local part = doc.participants[uid]
if not part then
  part = {user_id = uid, name = ARGV[4], role = ARGV[5], connections = 0, last_seen_ms = 0}
  doc.participants[uid] = part
end
part.connections = math.max(0, part.connections + tonumber(ARGV[6]))
part.last_seen_ms = now
if ARGV[4] ~= '' then part.name = ARGV[4] end
doc.updated_at_ms = now
save(doc)
return cjson.encode(part)
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
    del data["content_history"], data["interaction_history"]
    data["ai_context"] = {key: dumps(value) for key, value in record.ai_context.items()}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _decode(document: str, content: list[str], interaction: list[str]) -> SessionRecord:
    data = json.loads(document)
    data["ai_context"] = {key: json.loads(value) for key, value in data["ai_context"].items()}
    # cjson writes an empty Lua table as {}: an empty member list would come back as a dict.
    data["groups"] = {
        name: members if isinstance(members, list) else []
        for name, members in data["groups"].items()
    }
    data["content_history"] = [json.loads(entry) for entry in content]
    data["interaction_history"] = [json.loads(entry) for entry in interaction]
    return SessionRecord.from_json(data)


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
        self._change_connections = script(_PRELUDE + _CHANGE_CONNECTIONS)
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
        if not created:
            raise InvalidRequest(f"session {record.id!r} already exists")
        return record

    async def get(self, session_id: str) -> SessionRecord | None:
        document_key, content_key, interaction_key, _, _ = self._keys(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(document_key)
            pipe.lrange(content_key, 0, -1)
            pipe.lrange(interaction_key, 0, -1)
            document, content, interaction = await pipe.execute()
        if document is None:
            return None
        return _decode(document, content, interaction)

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

    async def end(self, session_id: str) -> SessionRecord:
        return self._record(session_id, await self._run(self._end, session_id))

    async def change_connections(
        self, session_id: str, *, user_id: str, name: str, role: str, delta: int, now_ms: int
    ) -> Participant:
        reply = await self._change_connections(
            keys=self._keys(session_id),
            args=[self._ttl_s, now_ms, user_id, name, role, delta],
        )
        if reply is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return Participant(**json.loads(reply))

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
