"""The media relay: a class's encoded video and audio leave the publisher's process over Redis.

The worker (or machine) holding the publisher is the *origin*: it encodes the
ladder once, as always. Every other server process with viewers of that
session is an *edge*: it shows them a :class:`~.relayed_ladder.RelayedLadder`
whose rungs are fed, frame by frame, from the origin's rung encoders. Redis is
the transport because it is already the engine every process of a deployment
shares (events, the session store), it crosses hosts, and its pub/sub is a
fan-out that keeps each channel's order; see docs/architecture.md for the
choice against a WebRTC cascade.

Keys and channels (``P`` is the key prefix, ``S`` the session, ``L`` the origin's
ladder id, ``R`` a rung name)::

    P relay:{S}:src:<kind>    the origin's announcement of the ladder viewers see, JSON,
                              expiring ANNOUNCE_TTL_MS after the origin's last refresh
    P relay:{S}:news          channel: an announcement changed (edges read it again)
    P relay:{S}:L:demand      hash "<node>|R" -> expiry (ms since the epoch): edges that
                              have viewers on rung R, refreshed every TICK_S
    P relay:{S}:L:ctl         channel to the origin: b"want" (demand changed, read it
                              again) and b"key:R" (a viewer needs a keyframe)
    P relay:{S}:L:R           channel: rung R's encoded frames, one message per frame
    P relay:{S}:nodes         hash node -> JSON {viewers, publisher, until}: what each
                              process serves (for the teacher's page and the media API)
    P relay:{S}:res:<kind>:<id>  the process holding a WHIP/WHEP resource (a DELETE that
                              reaches another process is forwarded on its node channel)
    P relay:node:<node>       channel to one process: b"delete|<kind>|<session>|<id>"

Only rungs somebody watches are relayed: the origin taps a rung (which starts its
encoder, as a local viewer would) while an unexpired demand names it, and
removes the tap when the last edge withdraws its demand or stops refreshing it
(an edge that died). An edge withdraws when the last viewer of that rung on it
leaves. A frame message is :data:`HEADER` (stream epoch, sequence number, pts,
send time, keyframe flag, width, height) followed by the encoded frame.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from rtc_server.base.background import BackgroundTasks

from .encoder import AUDIO_TIME_BASE, VIDEO_TIME_BASE, EncodedPacket
from .relayed_ladder import RelayedLadder, RemoteRung

if TYPE_CHECKING:
    from .hub import MediaHub
    from .ladder import Ladder
    from .rung import Rung

__all__ = ["HEADER", "MediaRelay"]

logger = logging.getLogger(__name__)

#: epoch (u32), seq (u32), pts (i64), sent at (s since the epoch, f64), keyframe (u8),
#: width, height (u16): 29 bytes before each frame.
HEADER = struct.Struct(">IIqdBHH")
#: How often announcements, demands and node counts are refreshed and read back.
TICK_S = 1.0
#: An announcement or demand not refreshed for this long is gone (its process died).
ANNOUNCE_TTL_MS = 5000
DEMAND_TTL_MS = 5000
#: Frames an origin tap holds while Redis is slow; beyond it the oldest go (edges then
#: see a gap and wait for a keyframe).
TAP_QUEUE_FRAMES = 60
#: A failed Redis read or write is retried after this pause.
RETRY_S = 0.5

# Keep the newest announcement: an older publisher elsewhere does not overwrite it.
_ANNOUNCE_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.ladder ~= ARGV[2] and tonumber(c.since) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1
"""
_WITHDRAW_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).ladder == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _now_ms() -> int:
    return int(time.time() * 1000)


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
    since_ms: int = field(default_factory=_now_ms)
    taps: dict[str, _Tap] = field(default_factory=dict)
    demand: dict[str, set[str]] = field(default_factory=dict)  # rung -> nodes


class MediaRelay:
    """This process's side of the relay (origin for its publishers, edge for its viewers).

    :param redis_url: the deployment's Redis (a client of its own: frames are bytes).
    :param node: this process's name, unique in the deployment (shown to teachers).
    """

    def __init__(self, redis_url: str, *, key_prefix: str, node: str, hub: MediaHub) -> None:
        self.node = node
        self._prefix = key_prefix
        self._hub = hub
        pool = BlockingConnectionPool.from_url(redis_url, max_connections=32, timeout=5.0)
        self._redis = Redis(connection_pool=pool)
        self._announce_script = self._redis.register_script(_ANNOUNCE_LUA)
        self._withdraw_script = self._redis.register_script(_WITHDRAW_LUA)
        self._pubsub: PubSub | None = None
        self._handlers: dict[bytes, Callable[[bytes], object]] = {}
        self._origins: dict[tuple[str, str], _Origin] = {}
        self._remote: dict[tuple[str, str, str], RemoteRung] = {}  # (session, ladder, rung)
        self._watched: set[str] = set()
        self._serving: set[str] = set()  # sessions this process reported viewers/sources in
        self._tasks = BackgroundTasks(f"MediaRelay({node})")
        self._loops: list[asyncio.Task[Any]] = []
        self._sub_lock = asyncio.Lock()
        self._closed = False
        #: Ends a WHIP/WHEP resource here (kind, session, id): set by the media feature.
        self.on_delete: Callable[[str, str, str], Coroutine[Any, Any, None]] | None = None

    def __repr__(self) -> str:
        return f"MediaRelay({self.node})"

    # -- keys -------------------------------------------------------------------------------

    def _base(self, session_id: str) -> str:
        return f"{self._prefix}relay:{{{session_id}}}"

    def _src_key(self, session_id: str, kind: str) -> str:
        return f"{self._base(session_id)}:src:{kind}"

    def _ladder_base(self, session_id: str, ladder_id: str) -> str:
        return f"{self._base(session_id)}:{ladder_id}"

    def _frames_channel(self, session_id: str, ladder_id: str, rung: str) -> str:
        return f"{self._ladder_base(session_id, ladder_id)}:{rung}"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._redis.ping()
        self._pubsub = self._redis.pubsub()
        # A channel of its own from the start: the reader never waits on an idle pub/sub.
        await self._subscribe(f"{self._prefix}relay:node:{self.node}", self._on_node_message)
        self._loops = [asyncio.create_task(self._read_loop(), name=f"{self!r} reader"),
                       asyncio.create_task(self._tick_loop(), name=f"{self!r} tick")]
        logger.info("%r relays media over Redis", self)

    async def close(self) -> None:
        self._closed = True
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for origin in list(self._origins.values()):
            await self._drop_origin(origin)
        try:
            async with asyncio.timeout(2.0):
                for (session_id, ladder_id, rung) in list(self._remote):
                    await self._redis.hdel(f"{self._ladder_base(session_id, ladder_id)}:demand",
                                           f"{self.node}|{rung}")
                for session_id in self._watched:
                    await self._redis.hdel(f"{self._base(session_id)}:nodes", self.node)
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
        until = _now_ms() + DEMAND_TTL_MS
        wanted = [(s, ladder, r) for (s, ladder, r), rung in self._remote.items() if rung.running]
        if wanted:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id, ladder_id, rung_name in wanted:
                    key = f"{self._ladder_base(session_id, ladder_id)}:demand"
                    pipe.hset(key, f"{self.node}|{rung_name}", until)
                    pipe.pexpire(key, 6 * DEMAND_TTL_MS)
                await pipe.execute()
        for session_id, media in list(self._hub.sessions.items()):
            # A source that ended (its ladder's reader stopped) before it was unpublished.
            for kind in ("video", "audio"):
                await media.offer_relay(kind)
            await self.watch(session_id)
            await self.refresh_sources(session_id)
            await self._publish_node(session_id)

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
        ctl = f"{self._ladder_base(session_id, origin.ladder_id)}:ctl"
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
        key = self._src_key(origin.session_id, origin.kind)
        previous = await self._redis.get(key)
        await self._announce_script(keys=[key], args=[body, origin.ladder_id, origin.since_ms,
                                                      ANNOUNCE_TTL_MS])
        if previous is None or json.loads(previous) != json.loads(body):
            await self._redis.publish(f"{self._base(origin.session_id)}:news", b"src")

    async def _drop_origin(self, origin: _Origin) -> None:
        self._origins.pop((origin.session_id, origin.kind), None)
        for name in list(origin.taps):
            self._untap(origin, name)
        base = self._ladder_base(origin.session_id, origin.ladder_id)
        try:
            await self._unsubscribe(f"{base}:ctl")
            await self._withdraw_script(keys=[self._src_key(origin.session_id, origin.kind)],
                                        args=[origin.ladder_id])
            await self._redis.delete(f"{base}:demand")
            await self._redis.publish(f"{self._base(origin.session_id)}:news", b"src")
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
        key = f"{self._ladder_base(origin.session_id, origin.ladder_id)}:demand"
        entries = await self._redis.hgetall(key)
        now = _now_ms()
        demand: dict[str, set[str]] = {}
        expired = []
        for raw_field, raw_until in entries.items():
            node, _, rung = _text(raw_field).partition("|")
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
        tap = _Tap(self._frames_channel(origin.session_id, origin.ladder_id, name))
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
            head = HEADER.pack(tap.epoch, tap.seq, packet.pts, time.time(),
                               1 if packet.is_keyframe else 0, packet.width, packet.height)
            try:
                await self._redis.publish(tap.channel, head + packet.data)
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
            f"{self._base(session_id)}:news",
            lambda _: self._tasks.spawn(self.refresh_sources(session_id), "read sources"))
        await self.refresh_sources(session_id)

    async def refresh_sources(self, session_id: str) -> None:
        media = self._hub.sessions.get(session_id)
        if media is None:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._src_key(session_id, "video"))
            pipe.get(self._src_key(session_id, "audio"))
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
        channel = self._frames_channel(*key)
        self._tasks.spawn(self._want(rung, channel), f"want {rung.name}")

    async def _want(self, rung: RemoteRung, channel: str) -> None:
        time_base = VIDEO_TIME_BASE if rung.kind == "video" else AUDIO_TIME_BASE

        def on_frame(data: bytes) -> None:
            epoch, seq, pts, sent_s, key, width, height = HEADER.unpack_from(data)
            packet = EncodedPacket(data[HEADER.size:], pts, time_base, is_keyframe=bool(key),
                                   width=width, height=height)
            rung.receive(epoch, seq, packet, sent_s)

        await self._subscribe(channel, on_frame)
        base = self._ladder_base(rung.session_id, rung.ladder_id)
        await self._redis.hset(f"{base}:demand", f"{self.node}|{rung.name}",
                               _now_ms() + DEMAND_TTL_MS)
        await self._redis.pexpire(f"{base}:demand", 6 * DEMAND_TTL_MS)
        await self._redis.publish(f"{base}:ctl", b"want")

    def unwant(self, rung: RemoteRung) -> None:
        key = (rung.session_id, rung.ladder_id, rung.name)
        if self._remote.get(key) is rung:
            del self._remote[key]
        if self._closed:
            return
        self._tasks.spawn(self._unwant(rung, self._frames_channel(*key)), f"unwant {rung.name}")

    async def _unwant(self, rung: RemoteRung, channel: str) -> None:
        await self._unsubscribe(channel)
        base = self._ladder_base(rung.session_id, rung.ladder_id)
        await self._redis.hdel(f"{base}:demand", f"{self.node}|{rung.name}")
        await self._redis.publish(f"{base}:ctl", b"want")

    def request_keyframe(self, rung: RemoteRung) -> None:
        if self._closed:
            return
        ctl = f"{self._ladder_base(rung.session_id, rung.ladder_id)}:ctl"
        self._tasks.spawn(self._publish(ctl, b"key:" + rung.name.encode()), "keyframe")

    async def _publish(self, channel: str, data: bytes) -> None:
        await self._redis.publish(channel, data)

    # -- WHIP/WHEP resources held here ----------------------------------------------------------

    def _resource_key(self, kind: str, session_id: str, resource_id: str) -> str:
        return f"{self._base(session_id)}:res:{kind}:{resource_id}"

    def claim(self, kind: str, session_id: str, resource_id: str) -> None:
        if not self._closed:
            self._tasks.spawn(self._claim(kind, session_id, resource_id), "claim")

    async def _claim(self, kind: str, session_id: str, resource_id: str) -> None:
        await self._redis.set(self._resource_key(kind, session_id, resource_id), self.node,
                              ex=24 * 3600)

    def release(self, kind: str, session_id: str, resource_id: str) -> None:
        if not self._closed:
            self._tasks.spawn(self._release(kind, session_id, resource_id), "release")

    async def _release(self, kind: str, session_id: str, resource_id: str) -> None:
        await self._redis.delete(self._resource_key(kind, session_id, resource_id))

    async def forward_delete(self, kind: str, session_id: str, resource_id: str) -> bool:
        """Ask the process holding the resource to end it; False if none does (404 here)."""
        owner = await self._redis.get(self._resource_key(kind, session_id, resource_id))
        if owner is None or _text(owner) == self.node:
            return False
        await self._redis.publish(f"{self._prefix}relay:node:{_text(owner)}",
                                  f"delete|{kind}|{session_id}|{resource_id}".encode())
        return True  # held elsewhere (or by a process that died: gone with it)

    def _on_node_message(self, data: bytes) -> None:
        parts = data.decode().split("|")
        if len(parts) == 4 and parts[0] == "delete" and self.on_delete is not None:
            self._tasks.spawn(self.on_delete(parts[1], parts[2], parts[3]), "forwarded delete")

    # -- who serves whom -----------------------------------------------------------------------

    async def _publish_node(self, session_id: str, *, always: bool = False) -> None:
        media = self._hub.sessions.get(session_id)
        if media is None:
            return
        key = f"{self._base(session_id)}:nodes"
        if not (media.viewers or media.sources or always):
            # Nobody here any more: say so once, then stay quiet for this session.
            if session_id in self._serving:
                self._serving.discard(session_id)
                await self._redis.hdel(key, self.node)
            return
        self._serving.add(session_id)
        body = json.dumps({"viewers": len(media.viewers), "publisher": bool(media.sources),
                           "until": _now_ms() + ANNOUNCE_TTL_MS})
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, self.node, body)
            pipe.pexpire(key, 6 * ANNOUNCE_TTL_MS)
            await pipe.execute()

    async def nodes(self, session_id: str) -> dict[str, dict[str, Any]]:
        """What each live process serves in the session: node -> {viewers, publisher}."""
        await self._publish_node(session_id, always=True)
        entries = await self._redis.hgetall(f"{self._base(session_id)}:nodes")
        now = _now_ms()
        found = {}
        for raw_node, raw in entries.items():
            body = json.loads(raw)
            if body["until"] >= now:
                found[_text(raw_node)] = {"viewers": body["viewers"],
                                            "publisher": body["publisher"]}
        return found
