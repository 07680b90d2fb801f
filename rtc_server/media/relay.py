"""The media relay: a class's encoded video and audio leave the publisher's process over Redis.

The worker (or machine) holding the publisher is the *origin*: it encodes the
ladder once, as always. Every other server process with viewers of that
session is an *edge*: it shows them a :class:`~.relayed_ladder.RelayedLadder`
whose rungs are fed, frame by frame, from the origin's rung encoders. Redis is
the transport because it is already the engine every process of a deployment
shares (events, the session store), it crosses hosts, and its pub/sub is a
fan-out that keeps each channel's order; see docs/architecture.md for the
choice against a WebRTC cascade.

Key and channel names and the frame format: :mod:`.relay_wire`.

Only rungs somebody watches are relayed: the origin taps a rung (which starts its
encoder, as a local viewer would) while an unexpired demand names it, and
removes the tap when the last edge withdraws its demand or stops refreshing it
(an edge that died). An edge withdraws when the last viewer of that rung on it
leaves.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from rtc_server.base.background import BackgroundTasks

from .encoder import EncodedPacket
from .relay_directory import RelayDirectory, ServedSession
from .relay_wire import (
    ANNOUNCE_LUA,
    WITHDRAW_LUA,
    RelayKeys,
    now_ms,
    pack_frame,
    text,
    unpack_frame,
)
from .relayed_ladder import RelayedLadder, RemoteRung

if TYPE_CHECKING:
    from .ladder import Ladder
    from .rung import Rung

__all__ = ["RELAY_REDIS_CONNECTIONS", "MediaRelay", "RelayHost", "RelaySession"]

logger = logging.getLogger(__name__)

#: How often announcements, demands and node counts are refreshed and read back.
TICK_S = 1.0
#: An announcement or demand not refreshed for this long is gone (its process died). Long
#: against a busy process's late refreshes (a starved event loop, measured: several
#: seconds), short enough that a dead edge is not relayed to for long.
ANNOUNCE_TTL_MS = 10_000
DEMAND_TTL_MS = 10_000
#: Frames an origin tap holds while Redis is slow; beyond it the oldest go (edges then
#: see a gap and wait for a keyframe).
TAP_QUEUE_FRAMES = 60
#: A failed Redis read or write is retried after this pause.
RETRY_S = 0.5
#: The relay's own Redis pool (frames are bytes); like the state's pool it keeps the
#: connections a burst opened, up to this many, for reuse.
RELAY_REDIS_CONNECTIONS = 32

class RelaySession(ServedSession, Protocol):
    """What the relay needs of a session's media here (:class:`~.hub.SessionMedia`)."""

    async def offer_relay(self, kind: str) -> None: ...

    async def set_remote(self, kind: str, announcement: dict[str, Any] | None) -> None: ...


class RelayHost(Protocol):
    """What the relay needs of this process's media (:class:`~.hub.MediaHub`)."""

    @property
    def sessions(self) -> Mapping[str, RelaySession]: ...


@dataclass(eq=False)
class _Tap:
    """The origin's listener on one rung: sends its frames to the rung's channel, in order."""

    channel: str
    epoch: int = field(default_factory=lambda: secrets.randbits(32))
    seq: int = 0
    queue: collections.deque[EncodedPacket] = field(default_factory=collections.deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[Any] | None = None
    frames_sent: int = 0
    frames_dropped: int = 0

    def _deliver(self, rung: Rung, packet: EncodedPacket) -> None:
        if len(self.queue) >= TAP_QUEUE_FRAMES:
            self.queue.popleft()
            self.frames_dropped += 1
        self.queue.append(packet)
        self.wakeup.set()


@dataclass(eq=False)
class _Origin:
    """A local ladder this process announces, and the rungs it relays."""

    session_id: str
    kind: str
    ladder: Ladder
    role: str
    ladder_id: str = field(default_factory=lambda: secrets.token_hex(6))
    since_ms: int = field(default_factory=now_ms)
    taps: dict[str, _Tap] = field(default_factory=dict)
    demand: dict[str, set[str]] = field(default_factory=dict)  # rung -> nodes


class MediaRelay:
    """This process's side of the relay (origin for its publishers, edge for its viewers).

    :param redis_url: the deployment's Redis (a client of its own: frames are bytes).
    :param node: this process's name, unique in the deployment (shown to teachers).
    """

    def __init__(self, redis_url: str, *, key_prefix: str, node: str, hub: RelayHost) -> None:
        self.node = node
        self._keys = RelayKeys(key_prefix)
        self._hub = hub
        pool = BlockingConnectionPool.from_url(redis_url, max_connections=RELAY_REDIS_CONNECTIONS,
                                               timeout=5.0)
        self._redis = Redis(connection_pool=pool)
        self._announce_script = self._redis.register_script(ANNOUNCE_LUA)
        self._withdraw_script = self._redis.register_script(WITHDRAW_LUA)
        self._pubsub: PubSub | None = None
        self._handlers: dict[bytes, Callable[[bytes], object]] = {}
        self._origins: dict[tuple[str, str], _Origin] = {}
        self._remote: dict[tuple[str, str, str], RemoteRung] = {}  # (session, ladder, rung)
        self._watched: set[str] = set()
        self._tasks = BackgroundTasks(f"MediaRelay({node})")
        self._loops: list[asyncio.Task[Any]] = []
        self._sub_lock = asyncio.Lock()
        self._closed = False
        #: WHIP/WHEP resource holders and viewers per process (the media API, DELETEs).
        self.directory = RelayDirectory(self._redis, self._keys, node, self._tasks)

    def __repr__(self) -> str:
        return f"MediaRelay({self.node})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub()
        # A channel of its own from the start: the reader never waits on an idle pub/sub.
        await self._subscribe(self._keys.node_channel(self.node),
                              self.directory.on_node_message)
        self._loops = [asyncio.create_task(self._read_loop(), name=f"{self!r} reader"),
                       asyncio.create_task(self._tick_loop(), name=f"{self!r} tick")]
        logger.info("%r relays media over Redis", self)

    async def close(self) -> None:
        self._closed = self.directory.closed = True
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for origin in list(self._origins.values()):
            await self._drop_origin(origin)
        try:
            async with asyncio.timeout(2.0):
                for (session_id, ladder_id, rung) in list(self._remote):
                    await self._redis.hdel(self._keys.demand(session_id, ladder_id),
                                           f"{self.node}|{rung}")
                await self.directory.withdraw()
        except (RedisError, OSError, TimeoutError) as exc:
            logger.info("%r could not withdraw on close: %s", self, exc)
        await self._tasks.close()
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()

    # -- pub/sub -----------------------------------------------------------------------------

    async def _subscribe(self, channel: str, handler: Callable[[bytes], object]) -> None:
        assert self._pubsub is not None
        async with self._sub_lock:
            self._handlers[channel.encode()] = handler
            await self._pubsub.subscribe(channel)

    async def _unsubscribe(self, channel: str) -> None:
        assert self._pubsub is not None
        async with self._sub_lock:
            if self._handlers.pop(channel.encode(), None) is not None:
                await self._pubsub.unsubscribe(channel)

    async def _read_loop(self) -> None:
        assert self._pubsub is not None
        logger.debug("%r reader started", self)
        try:
            while True:
                try:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True,
                                                             timeout=1.0)
                except (RedisError, OSError) as exc:
                    logger.warning("%r pub/sub failed (%s); retrying", self, exc)
                    await asyncio.sleep(RETRY_S)
                    continue
                if message is None or message.get("type") != "message":
                    continue
                handler = self._handlers.get(message["channel"])
                if handler is not None:
                    try:
                        handler(message["data"])
                    except Exception:
                        logger.exception("%r handler for %r failed", self, message["channel"])
        finally:
            logger.debug("%r reader exited", self)

    async def _tick_loop(self) -> None:
        logger.debug("%r tick started", self)
        try:
            while True:
                try:
                    await self.tick()
                except (RedisError, OSError) as exc:
                    logger.warning("%r refresh failed (%s); retrying", self, exc)
                await asyncio.sleep(TICK_S)
        finally:
            logger.debug("%r tick exited", self)

    async def tick(self) -> None:
        """Refresh what this process announces and demands; read what the others do."""
        for origin in list(self._origins.values()):
            await self._announce(origin)
            await self._read_demand(origin)
        until = now_ms() + DEMAND_TTL_MS
        wanted = [(s, ladder, r) for (s, ladder, r), rung in self._remote.items() if rung.running]
        if wanted:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id, ladder_id, rung_name in wanted:
                    key = self._keys.demand(session_id, ladder_id)
                    pipe.hset(key, f"{self.node}|{rung_name}", until)
                    pipe.pexpire(key, 6 * DEMAND_TTL_MS)
                await pipe.execute()
        for session_id, media in list(self._hub.sessions.items()):
            # A source that ended (its ladder's reader stopped) before it was unpublished.
            for kind in ("video", "audio"):
                await media.offer_relay(kind)
            await self.watch(session_id)
            await self.refresh_sources(session_id)
            await self.directory.report(session_id, media)

    # -- origin ------------------------------------------------------------------------------

    async def set_origin(self, session_id: str, kind: str, ladder: Ladder | None,
                         role: str = "camera") -> None:
        """Announce ``ladder`` as what the session's viewers of ``kind`` see (None: nothing)."""
        key = (session_id, kind)
        current = self._origins.get(key)
        if current is not None and current.ladder is ladder:
            return
        if current is not None:
            await self._drop_origin(current)
        if ladder is None:
            return
        origin = self._origins[key] = _Origin(session_id, kind, ladder, role)
        ctl = self._keys.control(session_id, origin.ladder_id)
        await self._subscribe(ctl, lambda data: self._on_ctl(origin, data))
        await self._announce(origin)
        await self._read_demand(origin)

    def origin_of(self, ladder: Ladder) -> _Origin | None:
        return next((o for o in self._origins.values() if o.ladder is ladder), None)

    async def _announce(self, origin: _Origin) -> None:
        size = origin.ladder.source_size or (0, 0)
        body = json.dumps({"node": self.node, "ladder": origin.ladder_id, "kind": origin.kind,
                           "role": origin.role, "since": origin.since_ms,
                           "width": size[0], "height": size[1]})
        key = self._keys.source(origin.session_id, origin.kind)
        previous = await self._redis.get(key)
        await self._announce_script(keys=[key], args=[body, origin.ladder_id, origin.since_ms,
                                                      ANNOUNCE_TTL_MS])
        if previous is None or json.loads(previous) != json.loads(body):
            await self._redis.publish(self._keys.news(origin.session_id), b"src")

    async def _drop_origin(self, origin: _Origin) -> None:
        self._origins.pop((origin.session_id, origin.kind), None)
        for name in list(origin.taps):
            self._untap(origin, name)
        try:
            await self._unsubscribe(self._keys.control(origin.session_id, origin.ladder_id))
            await self._withdraw_script(keys=[self._keys.source(origin.session_id, origin.kind)],
                                        args=[origin.ladder_id])
            await self._redis.delete(self._keys.demand(origin.session_id, origin.ladder_id))
            await self._redis.publish(self._keys.news(origin.session_id), b"src")
        except (RedisError, OSError) as exc:
            logger.warning("%r could not withdraw %s/%s: %s", self, origin.session_id,
                           origin.kind, exc)

    def _on_ctl(self, origin: _Origin, data: bytes) -> None:
        if data.startswith(b"key:"):
            name = data[4:].decode()
            if name in origin.ladder.rung_names:
                origin.ladder.rung(name).request_keyframe()
        elif data == b"want":
            self._tasks.spawn(self._read_demand(origin), "read demand")

    async def _read_demand(self, origin: _Origin) -> None:
        key = self._keys.demand(origin.session_id, origin.ladder_id)
        entries = await self._redis.hgetall(key)
        now = now_ms()
        demand: dict[str, set[str]] = {}
        expired = []
        for raw_field, raw_until in entries.items():
            node, _, rung = text(raw_field).partition("|")
            if int(raw_until) < now:
                expired.append(raw_field)
            elif rung in origin.ladder.rung_names:
                demand.setdefault(rung, set()).add(node)
        if expired:
            await self._redis.hdel(key, *expired)
        if self._origins.get((origin.session_id, origin.kind)) is not origin:
            return  # withdrawn while reading
        origin.demand = demand
        for name in demand.keys() - origin.taps.keys():
            self._tap(origin, name)
        for name in origin.taps.keys() - demand.keys():
            self._untap(origin, name)

    def _tap(self, origin: _Origin, name: str) -> None:
        tap = _Tap(self._keys.frames(origin.session_id, origin.ladder_id, name))
        origin.taps[name] = tap
        tap.task = self._tasks.spawn(self._send(tap), f"relay {name}")
        origin.ladder.rung(name).add(tap)  # starts the rung's encoder if it was idle
        logger.info("%r relays %s/%s %s to %s", self, origin.session_id, origin.kind, name,
                    sorted(origin.demand.get(name, ())))

    def _untap(self, origin: _Origin, name: str) -> None:
        tap = origin.taps.pop(name)
        origin.ladder.rung(name).remove(tap)  # the last listener leaving stops the encoder
        if tap.task is not None:
            tap.task.cancel()
        logger.info("%r stops relaying %s/%s %s", self, origin.session_id, origin.kind, name)

    async def _send(self, tap: _Tap) -> None:
        while True:
            while not tap.queue:
                tap.wakeup.clear()
                await tap.wakeup.wait()
            packet = tap.queue.popleft()
            tap.seq = (tap.seq + 1) & 0xFFFFFFFF
            try:
                await self._redis.publish(tap.channel,
                                          pack_frame(tap.epoch, tap.seq, packet, time.time()))
                tap.frames_sent += 1
            except (RedisError, OSError) as exc:
                tap.frames_dropped += 1
                logger.warning("%r could not relay a frame on %s: %s", self, tap.channel, exc)
                await asyncio.sleep(RETRY_S)

    def origin_stats(self, ladder: Ladder) -> dict[str, Any] | None:
        origin = self.origin_of(ladder)
        if origin is None:
            return None
        return {"ladder": origin.ladder_id,
                "rungs": {name: {"to": sorted(origin.demand.get(name, ())),
                                 "frames_sent": tap.frames_sent,
                                 "frames_dropped": tap.frames_dropped}
                          for name, tap in origin.taps.items()}}

    # -- edge --------------------------------------------------------------------------------

    async def watch(self, session_id: str) -> None:
        """Follow the session's announcements (idempotent)."""
        if session_id in self._watched:
            return
        self._watched.add(session_id)
        await self._subscribe(
            self._keys.news(session_id),
            lambda _: self._tasks.spawn(self.refresh_sources(session_id), "read sources"))
        await self.refresh_sources(session_id)

    async def refresh_sources(self, session_id: str) -> None:
        media = self._hub.sessions.get(session_id)
        if media is None:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._keys.source(session_id, "video"))
            pipe.get(self._keys.source(session_id, "audio"))
            replies = await pipe.execute()
        for kind, raw in zip(("video", "audio"), replies, strict=True):
            announcement = json.loads(raw) if raw else None
            if announcement is not None and announcement["node"] == self.node:
                announcement = None  # our own: viewers here use the local ladder
            await media.set_remote(kind, announcement)

    def relayed_ladder(self, session_id: str, announcement: dict[str, Any]) -> RelayedLadder:
        return RelayedLadder(session_id, announcement, self)

    def want(self, rung: RemoteRung) -> None:
        if self._closed:
            return
        key = (rung.session_id, rung.ladder_id, rung.name)
        self._remote[key] = rung
        channel = self._keys.frames(*key)
        self._tasks.spawn(self._want(rung, channel), f"want {rung.name}")

    async def _want(self, rung: RemoteRung, channel: str) -> None:
        await self._subscribe(channel, lambda data: rung.receive(*unpack_frame(data, rung.kind)))
        demand = self._keys.demand(rung.session_id, rung.ladder_id)
        await self._redis.hset(demand, f"{self.node}|{rung.name}", now_ms() + DEMAND_TTL_MS)
        await self._redis.pexpire(demand, 6 * DEMAND_TTL_MS)
        await self._redis.publish(self._keys.control(rung.session_id, rung.ladder_id), b"want")

    def unwant(self, rung: RemoteRung) -> None:
        key = (rung.session_id, rung.ladder_id, rung.name)
        if self._remote.get(key) is rung:
            del self._remote[key]
        if self._closed:
            return
        self._tasks.spawn(self._unwant(rung, self._keys.frames(*key)), f"unwant {rung.name}")

    async def _unwant(self, rung: RemoteRung, channel: str) -> None:
        await self._unsubscribe(channel)
        await self._redis.hdel(self._keys.demand(rung.session_id, rung.ladder_id),
                               f"{self.node}|{rung.name}")
        await self._redis.publish(self._keys.control(rung.session_id, rung.ladder_id), b"want")

    def request_keyframe(self, rung: RemoteRung) -> None:
        if self._closed:
            return
        ctl = self._keys.control(rung.session_id, rung.ladder_id)
        self._tasks.spawn(self._publish(ctl, b"key:" + rung.name.encode()), "keyframe")

    async def _publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)
