"""Event bus on Redis: one sequence, one log and one fan-out shared by several processes.

Keys per session (the ``{session}`` hash tag keeps them in one cluster slot)::

    <prefix>bus:{<session>}:seq   INCR counter: the last seq assigned
    <prefix>bus:{<session>}:log   stream, entry id "<seq>-0", fields seq ts type kind name wire
    <prefix>bus:{<session>}       pub/sub channel (a channel, not a key)

``publish`` runs one Lua script, so taking the number, logging and fanning
out are one step for every process: the script INCRs the counter, builds the
envelope around the payload (serialised once, in Python) with only the seq
inserted, XADDs it with the explicit id ``<seq>-0`` (ids grow because seqs
do) and an exact ``MAXLEN max_events`` (the log keeps what the docs say),
PUBLISHes it and refreshes the 24 h expiry of both keys. Since scripts run
one at a time, PUBLISH order is seq order.

The explicit stream ids make ``read_after`` one exact ``XRANGE (<seq>-0 +``.

Pub/sub is at-most-once, so each process tracks the last seq it delivered per
session: a duplicate (seq <= last) is dropped, and a gap (seq > last + 1) is
filled from the stream before the new event is delivered. After the pub/sub
connection is re-established the bus reads everything it missed the same way.
An event lost *and* trimmed from the log before it was noticed cannot come
back; that is logged.

A published pub/sub message is ``"<seq>\\n<meta>\\n<wire>"`` where ``meta`` is
the JSON array ``[ts, type, kind, name]``: JSON escapes every newline, so
splitting at the first two is exact, and the envelope itself is never parsed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from rtc_server.base.exceptions import ServiceUnavailable
from rtc_server.base.protocol import Audience, Event, dumps, envelope_parts, now_ms

from .bus import Backlog, EventBus, EventHandler, Unsubscribe
from .store import SESSION_TTL_S
from .unavailable import redis_errors_as_unavailable

logger = logging.getLogger(__name__)

# How long subscribe() waits for Redis to confirm the channel subscription.
SUBSCRIBE_TIMEOUT_S = 10.0
# Pauses before the reader tries Redis again after losing it (doubling up to the maximum).
RECONNECT_DELAY_S = 0.5
RECONNECT_MAX_DELAY_S = 2.0
# Gap fills read the stream in pages of this many entries.
FILL_PAGE = 1000

# KEYS: seq key, stream key, reset mark. ARGV: channel, max_events, ttl_s, wire head (up
# to '"seq":'), wire tail (after the seq, payload included), ts, type, kind, name, meta,
# floor (the highest seq the publishing process has seen in the session).
_PUBLISH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local floor = tonumber(ARGV[11])
  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if newest[1] then
    -- The counter was lost (evicted) but the log was not: continue after the
    -- newest entry, or XADD below would refuse an id that is not greater.
    floor = math.max(floor, tonumber(string.match(newest[1][1], '^(%d+)')))
  elseif floor > 0 then
    -- Counter and log are gone (Redis restarted without persistence): continue after
    -- the highest seq a process knows, so no seq is used twice, and mark where the
    -- log restarts (a resume from before it needs a snapshot).
    redis.call('SET', KEYS[3], floor, 'EX', ARGV[3])
  end
  if floor > 0 then redis.call('SET', KEYS[1], floor) end
end
local seq = redis.call('INCR', KEYS[1])
local s = string.format('%d', seq)
local wire = ARGV[4] .. s .. ARGV[5]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], s .. '-0',
  'seq', s, 'ts', ARGV[6], 'type', ARGV[7], 'kind', ARGV[8], 'name', ARGV[9], 'wire', wire)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[1], s .. '\\n' .. ARGV[10] .. '\\n' .. wire)
return seq
"""




@dataclass(eq=False)
class _Subscription:
    """This process's handlers for one session and how far delivery has got."""

    session_id: str
    channel: str
    handlers: list[EventHandler] = field(default_factory=list)
    # None until Redis confirmed the subscription; messages before that are stale.
    last: int | None = None
    ready: asyncio.Future[None] | None = None


@redis_errors_as_unavailable
class RedisBus(EventBus):
    """Sequencing, log and fan-out in Redis; one pub/sub connection and reader per bus."""

    def __init__(
        self,
        client: Redis,
        *,
        max_events: int = 10_000,
        key_prefix: str = "crtc:",
        ttl_s: int = SESSION_TTL_S,
    ) -> None:
        self._max_events = max_events
        self._prefix = key_prefix
        self._ttl_s = ttl_s
        self._redis = client  # shared, owned by the Storage (decode_responses=True)
        self._publish = self._redis.register_script(_PUBLISH_LUA)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._reader_started = asyncio.Event()
        self._reader_exited = asyncio.Event()
        self._subs: dict[str, _Subscription] = {}  # by channel
        #: The highest seq this process has seen per session: a lost counter resumes after it.
        self._floor: dict[str, int] = {}
        #: Redis' reset marker (``<prefix>epoch``); a different one means Redis lost its data.
        self._epoch: str | None = None
        self.healthy = True
        #: Called (from the reader) when Redis came back without the data it had.
        self.on_reset: list[Callable[[], Awaitable[None]]] = []
        #: Called when Redis goes away (False) and comes back (True).
        self.on_health: list[Callable[[bool], Awaitable[None]]] = []
        self._callbacks: set[asyncio.Task[None]] = set()
        self._sub_lock = asyncio.Lock()
        self._unsub_tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisBus({self._prefix!r})"

    # -- keys ---------------------------------------------------------------

    def _base(self, session_id: str) -> str:
        return f"{self._prefix}bus:{{{session_id}}}"

    def _seq_key(self, session_id: str) -> str:
        return self._base(session_id) + ":seq"

    def _log_key(self, session_id: str) -> str:
        return self._base(session_id) + ":log"

    def _reset_key(self, session_id: str) -> str:
        return self._base(session_id) + ":reset"

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        if self._reader is not None:
            return
        await self._redis.ping()
        await self._redis.script_load(_PUBLISH_LUA)  # fail early on a broken script
        self._epoch = await self._current_epoch()
        self._pubsub = self._redis.pubsub()
        await self._pubsub.connect()
        self._reader = asyncio.create_task(self._read_loop(self._pubsub), name=repr(self))
        await self._reader_started.wait()

    async def close(self) -> None:
        self._closed = True
        for callback in list(self._callbacks):
            callback.cancel()
        for task in list(self._unsub_tasks):
            task.cancel()
        if self._unsub_tasks:
            await asyncio.gather(*self._unsub_tasks, return_exceptions=True)
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    # -- publishing and reading the log -------------------------------------------

    async def publish(
        self, session_id: str, audience: Audience, type: str, payload: dict[str, Any]
    ) -> Event:
        ts = now_ms()
        head, tail = envelope_parts(session_id=session_id, ts_ms=ts, type=type, audience=audience,
                                    payload_json=dumps(payload))
        kind, name = audience.kind, audience.name or ""
        meta = json.dumps([ts, type, kind, name])
        floor = self._floor.get(session_id, 0)
        try:
            reply = await self._publish(
                keys=[self._seq_key(session_id), self._log_key(session_id),
                      self._reset_key(session_id)],
                args=[
                    self._base(session_id),
                    self._max_events,
                    self._ttl_s,
                    head,
                    tail,
                    ts,
                    type,
                    kind,
                    name,
                    meta,
                    floor,
                ],
            )
        except RedisError as exc:
            self._set_healthy(False, exc)
            raise ServiceUnavailable(
                "the shared event stream (Redis) is unreachable; the event was not sent, "
                "try again in a moment") from exc
        seq = int(reply)
        if seq > floor:
            self._floor[session_id] = seq
        # Same parts, same concatenation as in the script: byte-identical to the logged wire.
        return Event(session_id, seq, ts, type, audience, f"{head}{seq}{tail}")

    async def read_after(self, session_id: str, after_seq: int, limit: int) -> Backlog:
        after_seq = max(0, after_seq)
        log_key = self._log_key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._seq_key(session_id))
            pipe.xrange(log_key, "-", "+", count=1)
            pipe.xrange(log_key, f"({after_seq}-0", "+", count=max(1, limit))
            pipe.get(self._reset_key(session_id))
            raw_last, oldest, entries, reset = await pipe.execute()
        last = int(raw_last or 0)
        oldest_seq = int(oldest[0][1]["seq"]) if oldest else last + 1
        complete = after_seq + 1 >= oldest_seq or after_seq >= last
        if reset is not None and after_seq <= int(reset):
            complete = False  # Redis lost the state this client saw: it needs a snapshot
        events = [self._entry_event(session_id, fields) for _, fields in entries]
        return Backlog(events=events[: max(0, limit)], complete=complete, last_seq=last)

    async def mark_reset(self, session_id: str) -> None:
        floor = self._floor.get(session_id, 0)
        if floor <= 0:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._seq_key(session_id), floor, nx=True, ex=self._ttl_s)
            pipe.set(self._reset_key(session_id), floor, ex=self._ttl_s)
            await pipe.execute()

    async def last_seq(self, session_id: str) -> int:
        return int(await self._redis.get(self._seq_key(session_id)) or 0)

    @staticmethod
    def _entry_event(session_id: str, fields: dict[str, str]) -> Event:
        return Event(
            session_id,
            int(fields["seq"]),
            int(fields["ts"]),
            fields["type"],
            Audience.from_parts(fields["kind"], fields["name"]),
            fields["wire"],
        )

    # -- subscriptions ------------------------------------------------------------

    async def subscribe(self, session_id: str, handler: EventHandler) -> Unsubscribe:
        if self._pubsub is None or self._closed:
            raise RuntimeError(f"{self!r}: subscribe before start() or after close()")
        channel = self._base(session_id)
        async with self._sub_lock:
            sub = self._subs.get(channel)
            if sub is None:
                sub = self._subs[channel] = _Subscription(session_id, channel)
                sub.ready = asyncio.get_running_loop().create_future()
                await self._pubsub.subscribe(channel)
            sub.handlers.append(handler)
            ready = sub.ready
        if ready is not None:
            # Once Redis confirmed the channel, every later publish reaches us.
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    await asyncio.shield(ready)
            except TimeoutError as exc:
                self._drop_handler(sub, handler)
                raise ServiceUnavailable("the shared event stream (Redis) did not confirm the "
                                         "subscription; try again in a moment") from exc
            except BaseException:
                self._drop_handler(sub, handler)
                raise

        def unsubscribe() -> None:
            self._drop_handler(sub, handler)

        return unsubscribe

    def _drop_handler(self, sub: _Subscription, handler: EventHandler) -> None:
        if handler in sub.handlers:
            sub.handlers.remove(handler)
        if not sub.handlers and self._subs.get(sub.channel) is sub and not self._closed:
            # Unsubscribe is synchronous; the UNSUBSCRIBE goes out from a task.
            task = asyncio.get_running_loop().create_task(self._release(sub))
            self._unsub_tasks.add(task)
            task.add_done_callback(self._unsub_tasks.discard)

    async def _release(self, sub: _Subscription) -> None:
        async with self._sub_lock:
            # A subscribe() in the meantime keeps the channel.
            if sub.handlers or self._subs.get(sub.channel) is not sub or self._pubsub is None:
                return
            del self._subs[sub.channel]
            try:
                await self._pubsub.unsubscribe(sub.channel)
            except RedisError as exc:
                # redis-py drops the channel from its resubscribe list anyway.
                logger.warning("%r could not unsubscribe %s: %s", self, sub.channel, exc)

    # -- the reader -------------------------------------------------------------------

    async def _read_loop(self, pubsub: PubSub) -> None:
        """Read pub/sub until closed; survive Redis going away and coming back.

        On any Redis error (the connection dropped, a gap fill failed, Redis restarting)
        it waits (0.5 s doubling to 2 s) and reads again: redis-py reconnects and
        re-subscribes every channel, and each confirmation fills what was published
        meanwhile from the log. Once Redis answers again, the epoch tells whether it
        kept its data; if not, the ``on_reset`` callbacks resynchronise the server.
        """
        self._reader_started.set()
        delay = RECONNECT_DELAY_S
        try:
            while True:
                try:
                    message = await pubsub.get_message(timeout=None)
                    if not self.healthy:
                        await self._recovered()
                    delay = RECONNECT_DELAY_S
                    if message is None:
                        continue
                    kind = message["type"]
                    if kind == "message":
                        await self._on_message(message["channel"], message["data"])
                    elif kind == "subscribe":
                        await self._on_subscribed(message["channel"])
                except (RedisError, OSError) as exc:
                    self._set_healthy(False, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX_DELAY_S)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("%r reader failed", self)
        finally:
            self._reader_exited.set()
            for sub in self._subs.values():
                if sub.ready is not None and not sub.ready.done():
                    sub.ready.set_exception(RuntimeError(f"{self!r} reader exited"))

    async def _current_epoch(self) -> str:
        """Redis' data marker: set once (NX); a new one means Redis lost everything."""
        key = f"{self._prefix}epoch"
        await self._redis.set(key, secrets.token_hex(8), nx=True)
        return str(await self._redis.get(key))

    def _set_healthy(self, healthy: bool, exc: BaseException | None = None) -> None:
        if healthy == self.healthy:
            return
        self.healthy = healthy
        if healthy:
            logger.warning("%r Redis is reachable again", self)
        else:
            logger.warning("%r lost Redis: %s; retrying", self, exc)
            for callback in self.on_health:
                self._call(callback(False))

    def _call(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    async def _recovered(self) -> None:
        epoch = await self._current_epoch()
        self._set_healthy(True)
        # Told before any resynchronisation closes connections (so staff hear it first).
        await asyncio.gather(*(callback(True) for callback in self.on_health),
                             return_exceptions=True)
        if self._epoch is not None and epoch != self._epoch:
            logger.warning("%r Redis came back without its data (epoch %s -> %s): "
                           "resynchronising", self, self._epoch, epoch)
            for callback in self.on_reset:
                self._call(callback())
        self._epoch = epoch

    async def _on_subscribed(self, channel: str) -> None:
        sub = self._subs.get(channel)
        if sub is None:
            return
        if sub.last is None:
            # Events up to here were published before we listened: not ours.
            sub.last = await self.last_seq(sub.session_id)
            self._floor[sub.session_id] = max(self._floor.get(sub.session_id, 0), sub.last)
            if sub.ready is not None and not sub.ready.done():
                sub.ready.set_result(None)
            sub.ready = None
        else:
            # Resubscribed after a reconnect: deliver what was published meanwhile.
            await self._fill(sub, None)

    async def _on_message(self, channel: str, data: str) -> None:
        sub = self._subs.get(channel)
        if sub is None or sub.last is None:
            return  # after our UNSUBSCRIBE, or before the confirmation of a new SUBSCRIBE
        seq_s, meta_s, wire = data.split("\n", 2)
        seq = int(seq_s)
        if seq <= sub.last:
            return  # a duplicate, or already read from the log while filling a gap
        if seq > sub.last + 1:
            await self._fill(sub, seq)
            if seq <= sub.last:
                return
        ts, type, kind, name = json.loads(meta_s)
        audience = Audience.from_parts(kind, name)
        self._deliver(sub, Event(sub.session_id, seq, ts, type, audience, wire))

    async def _fill(self, sub: _Subscription, before: int | None) -> None:
        """Deliver the logged events after ``sub.last`` (and before ``before``, if given)."""
        assert sub.last is not None
        log_key = self._log_key(sub.session_id)
        end = "+" if before is None else f"{before - 1}-0"
        while before is None or sub.last + 1 < before:
            # decode_responses=True: ids, field names and values are str.
            entries = cast(
                list[tuple[str, dict[str, str]]],
                await self._redis.xrange(log_key, f"({sub.last}-0", end, count=FILL_PAGE),
            )
            if not entries:
                break
            for _, fields in entries:
                event = self._entry_event(sub.session_id, fields)
                if event.seq > sub.last + 1:
                    self._warn_lost(sub, event.seq)
                self._deliver(sub, event)
        if before is not None and sub.last + 1 < before:
            self._warn_lost(sub, before)

    def _warn_lost(self, sub: _Subscription, next_seq: int) -> None:
        logger.warning(
            "%r session %s: events %d..%d were lost on pub/sub and are no longer logged",
            self,
            sub.session_id,
            (sub.last or 0) + 1,
            next_seq - 1,
        )

    def _deliver(self, sub: _Subscription, event: Event) -> None:
        sub.last = event.seq
        if event.seq > self._floor.get(sub.session_id, 0):
            self._floor[sub.session_id] = event.seq
        for handler in tuple(sub.handlers):
            try:
                handler(event)
            except Exception:
                logger.exception(
                    "%r handler failed for session %s seq %d", self, sub.session_id, event.seq
                )
