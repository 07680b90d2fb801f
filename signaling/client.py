"""The Python client: for native/mobile-style clients, tests and load bots.

    async with ClassroomClient("http://127.0.0.1:8080", token,
                               ice_host_addresses=["127.0.0.1"]) as client:
        await client.wait_datachannel()
        async for event in client.events():
            ...

Events reach the application two ways: callbacks registered with :meth:`on`
(called as each event is delivered) and a queue read by :meth:`events` /
:meth:`next_event`. The queue is bounded (``max_queued``, default 10,000 events):
when nobody reads it, the oldest unread events are dropped and counted in
``unread_dropped`` (callbacks still see every event). A client that only uses
:meth:`on`, such as a load bot, passes ``max_queued=0`` and keeps no queue at all,
so hundreds of clients in one process do not pile up every event they received
(unbounded, that made garbage-collection pauses the bottleneck of a load test).

It speaks exactly docs/protocol.md: WebSocket signaling, an ``events`` data
channel (reliable, ordered) and an ``ephemeral`` one (unordered, no
retransmits), and the rules for restoring one ordered stream of events from
both transports (hold events from the transport not yet announced, drop
``seq`` already seen).

It keeps the connection alive as the protocol asks: a ``ping`` every
``keepalive_s`` carrying the last ``seq`` processed (over the data channel when
it is open, so a silent path is noticed in seconds), a reconnect with its resume
token when the connection drops or the server restarts (close codes 1000, 1001,
1006, 4008, 4012; not after leaving, 4003 removed, 4009 taken over by a newer
connection, 4010 session ended, 4029 flooding), and a new peer connection when
WebRTC failed while the WebSocket stayed up. ``resynchronised`` counts the
reconnects that needed a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

import aiohttp
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from rtc_server.config import IceServer
from rtc_server.media.counting import CountingReceiver, add_counting_transceiver
from rtc_server.patches.handshake_media import start_media_negotiated_during_handshake
from rtc_server.patches.ice import restrict_host_addresses, rtc_configuration

logger = logging.getLogger(__name__)

Via = Literal["websocket", "datachannel", "ephemeral"]


_UNTRACKED = frozenset({"offer", "answer", "candidate", "ping", "transport", "leave"})
#: Close codes after which the client must not come back (docs/protocol.md section 7).
NO_RECONNECT_CODES = frozenset({4003, 4009, 4010, 4029})


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


class ClientError(Exception):
    """The server answered a request with an ``error`` reply.

    ``retry_after_ms``: the server asked the client to try again after that long (a join
    refused while the server admits others), None when it did not say.
    """

    def __init__(self, code: str, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms


class ConnectRefused(ClientError):
    """The server refused the WebSocket upgrade (HTTP status and JSON error)."""

    def __init__(self, status: int, code: str, message: str,
                 retry_after_ms: int | None = None) -> None:
        super().__init__(code, message, retry_after_ms=retry_after_ms)
        self.status = status  # a 503 (joins queued full, restarting) says when to retry


def _retry_after_ms(error: dict[str, Any], header: str | None = None) -> int | None:
    """``retry_after_ms`` of an error body, else a ``Retry-After`` header in seconds."""
    value = error.get("retry_after_ms")
    if isinstance(value, int | float) and value >= 0:
        return int(value)
    if header and header.strip().isdigit():
        return int(header.strip()) * 1000
    return None


class ClassroomClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: Literal["auto", "websocket"] = "auto",
        webrtc: bool = True,
        ice_host_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[IceServer] = (),
        media: bool = False,
        decode_media: bool = False,
        publish: Sequence[MediaStreamTrack] = (),
        max_queued: int = 10_000,
        keepalive_s: float | None = 1.0,
        auto_reconnect: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.transport = transport
        self.webrtc = webrtc
        self.media = media
        self.decode_media = decode_media
        self.publish_tracks = list(publish)
        # media=True without decoding: frames and bytes are counted (cheap, for bots).
        self.counters: dict[str, CountingReceiver] = {}
        self.remote_tracks: dict[str, MediaStreamTrack] = {}
        self._ice_servers = tuple(ice_servers)
        if ice_host_addresses is not None:
            restrict_host_addresses(ice_host_addresses)
        self._http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pc: RTCPeerConnection | None = None
        self.events_channel: RTCDataChannel | None = None
        self.ephemeral_channel: RTCDataChannel | None = None
        self.welcome: dict[str, Any] = {}
        self.last_seq = 0
        self.duplicates = 0
        self.events_via: str = "websocket"
        self.received_via: dict[str, int] = {"websocket": 0, "datachannel": 0}
        self._held: dict[str, list[dict[str, Any]]] = {"websocket": [], "datachannel": []}
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.max_queued = max_queued
        self.unread_dropped = 0  # events dropped from the full queue (on() callbacks saw them)
        self._callbacks: list[tuple[str | None, Callable[[dict[str, Any]], Any]]] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.replies: deque[dict[str, Any]] = deque(maxlen=1000)
        self._dc_open = asyncio.Event()
        self._on_dc_events = asyncio.Event()
        self._closed = asyncio.Event()
        self._dropping = False
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self.close_code: int | None = None
        # Messages sent but not yet answered, resent after a reconnect (the server
        # deduplicates by id, so a message it already handled is not handled twice).
        self._unacked: dict[str, str] = {}
        self.resume_token: str | None = None
        self.reconnects = 0
        self.resynchronised = 0
        self.keepalive_s = keepalive_s
        self.auto_reconnect = auto_reconnect
        self._left = False
        self._asked_websocket = False
        self._background: set[asyncio.Task[Any]] = set()
        self._keepalive: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._restoring: asyncio.Task[None] | None = None

    # -- connect / close -----------------------------------------------------------------------

    async def __aenter__(self) -> ClassroomClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, *, resume: bool = False) -> dict[str, Any]:
        """Join; with ``resume``, rejoin after a drop and receive what was missed."""
        if self._http is None or self._http.closed:  # closed by a refused attempt
            self._http = aiohttp.ClientSession()
        if resume and self.resume_token:
            url = f"{self.base_url}/ws?resume={self.resume_token}&last_seq={self.last_seq}"
        else:
            url = f"{self.base_url}/ws?token={self.token}"
        if self.transport == "websocket":
            url += "&transport=websocket"
        try:
            self.ws = await self._http.ws_connect(url, heartbeat=10, max_msg_size=0)
        except aiohttp.WSServerHandshakeError as exc:
            await self._http.close()
            raise await self._refusal(url, exc) from exc
        first = await self.ws.receive()
        if first.type != aiohttp.WSMsgType.TEXT:
            raise ClientError("no_welcome", f"expected a welcome, got {first.type!r}")
        welcome = json.loads(first.data)
        if welcome["type"] == "error":
            error = welcome["payload"]
            raise ClientError(error["code"], error["message"],
                              retry_after_ms=_retry_after_ms(error))
        self.welcome = welcome["payload"]
        self.resume_token = self.welcome.get("resume_token")
        if not resume or "snapshot" in self.welcome:
            self.last_seq = self.welcome["last_seq"]
        self.events_via = "websocket"
        self._held = {"websocket": [], "datachannel": []}
        self._on_dc_events.clear()
        self._dc_open.clear()
        self._reader = asyncio.ensure_future(self._read_ws(self.ws))
        if resume:
            self.reconnects += 1
            self.resynchronised += "snapshot" in self.welcome
        if self.webrtc:
            await self._negotiate()
        for text in list(self._unacked.values()):
            await self.send_raw(text)
        if self.keepalive_s and self._keepalive is None:
            self._keepalive = asyncio.ensure_future(self._keep_alive(self.keepalive_s))
        return self.welcome

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _keep_alive(self, interval_s: float) -> None:
        """A ping every ``interval_s`` with the last seq processed (docs/protocol.md 4.2)."""
        while not self._closed.is_set():
            await asyncio.sleep(interval_s)
            if self.ws is None or self.ws.closed:
                continue
            via: Via = "ephemeral" if self._channel_open(self.ephemeral_channel) else "websocket"
            text = json.dumps({"type": "ping", "t": time.time(), "last_seq": self.last_seq})
            with contextlib.suppress(ConnectionError, RuntimeError, ValueError,
                                     aiohttp.ClientError):
                await self.send_raw(text, via=via)

    async def _reconnect_loop(self) -> None:
        """Resume after an unexpected close, backing off from 0.2 s to 5 s, for up to 10 min."""
        delay = 0.2
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 600
        while not self._closed.is_set() and loop.time() < give_up:
            await asyncio.sleep(delay)
            try:
                if self.pc is not None:
                    await self.pc.close()
                    self.pc = None
                await self.connect(resume=True)
            except ConnectRefused as exc:
                if exc.status in (401, 403, 404, 410):
                    break  # the server says no: the session ended, the token is bad
                if exc.retry_after_ms:
                    await asyncio.sleep(exc.retry_after_ms / 1000)  # as the server asked
                    continue
            except (TimeoutError, ClientError, OSError, aiohttp.ClientError) as exc:
                logger.debug("reconnect failed: %s", exc)
            else:
                return
            delay = min(delay * 2, 5.0)
        self._queue.put_nowait(None)

    async def _restore_webrtc(self) -> None:
        delay = 1.0
        while not self._closed.is_set() and self.ws is not None and not self.ws.closed:
            try:
                await self.restart_webrtc()
                await self.wait_datachannel(timeout=15)
                return
            except (TimeoutError, ClientError, OSError, aiohttp.ClientError,
                    ConnectionError) as exc:
                logger.debug("WebRTC not back yet (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)

    async def restart_webrtc(self) -> None:
        """A new peer connection on the same WebSocket (after the old one failed)."""
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        await self._negotiate()

    async def drop(self) -> None:
        """Lose the connection abruptly, as a network change would (for tests and bots)."""
        self._dropping = True
        if self.ws is not None:
            transport = self.ws._response.connection.transport if (
                self.ws._response.connection) else None
            if transport is not None:
                transport.abort()
            else:
                await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        self._dropping = False

    async def reconnect(self) -> dict[str, Any]:
        """Drop what is left of the old connection and resume where the stream stopped."""
        await self.drop()
        welcome = await self.connect(resume=True)
        # A reconnect continues the stream: forget the end-of-stream marks of the drop.
        kept = [e for e in _drain(self._queue) if e is not None]
        for event in kept:
            self._queue.put_nowait(event)
        return welcome
    async def _refusal(self, url: str, exc: aiohttp.WSServerHandshakeError) -> ConnectRefused:
        assert self._http is not None
        header = exc.headers.get("Retry-After") if exc.headers else None
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            try:
                err = (await resp.json())["error"]
                return ConnectRefused(exc.status, err["code"], err["message"],
                                      retry_after_ms=_retry_after_ms(err, header))
            except (ValueError, KeyError, aiohttp.ContentTypeError):
                return ConnectRefused(exc.status, "refused", exc.message,
                                      retry_after_ms=_retry_after_ms({}, header))

    async def _negotiate(self) -> None:
        servers = self._ice_servers or tuple(
            IceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in self.welcome.get("ice_servers", [])
        )
        self.pc = RTCPeerConnection(configuration=rtc_configuration(servers))
        start_media_negotiated_during_handshake(self.pc)
        self.events_channel = self.pc.createDataChannel("events", ordered=True)
        self.ephemeral_channel = self.pc.createDataChannel(
            "ephemeral", ordered=False, maxRetransmits=0
        )
        self.events_channel.on("open", self._dc_open.set)
        self.events_channel.on("message", lambda data: self._on_frame(data, "datachannel"))
        self.ephemeral_channel.on("message", lambda data: self._on_frame(data, "ephemeral"))
        self.counters = {}
        if self.media:
            for kind in ("video", "audio"):
                if self.decode_media:
                    self.pc.addTransceiver(kind, direction="recvonly")
                else:
                    self.counters[kind] = add_counting_transceiver(self.pc, kind)
            self.pc.on("track", lambda track: self.remote_tracks.__setitem__(track.kind, track))
        for track in self.publish_tracks:
            self.pc.addTrack(track)
        await self.renegotiate()

    async def renegotiate(self) -> None:
        """Offer the peer connection's current tracks (after adding or removing one)."""
        assert self.pc is not None
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.request({"type": "offer", "sdp": self.pc.localDescription.sdp})
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def wait_datachannel(self, timeout: float = 10.0) -> None:
        """Wait until events arrive over the data channel (the server announced the switch)."""
        await asyncio.wait_for(self._on_dc_events.wait(), timeout)

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for task in (self._keepalive, self._reconnecting, self._restoring, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.pc is not None:
            await self.pc.close()
        if self._http is not None:
            await self._http.close()
        self._queue.put_nowait(None)

    # -- receiving -----------------------------------------------------------------------------

    async def _read_ws(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_frame(msg.data, "websocket")
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                    break
        finally:
            self.close_code = ws.close_code
            if self._should_reconnect():
                # Requests in flight stay pending: they are resent after the reconnect.
                self._reconnecting = asyncio.ensure_future(self._reconnect_loop())
            else:
                if not self._dropping:
                    self._queue.put_nowait(None)
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_exception(
                            ClientError("closed", f"connection closed ({self.close_code})")
                        )

    def _should_reconnect(self) -> bool:
        return (self.auto_reconnect and not self._closed.is_set() and not self._dropping
                and not self._left and self.close_code not in NO_RECONNECT_CODES)

    def _on_frame(self, data: str | bytes, via: Via) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        for line in text.split("\n"):
            if line:
                self._on_envelope(json.loads(line), via)

    def _on_envelope(self, env: dict[str, Any], via: Via) -> None:
        if env.get("seq") is None:
            self._on_reply(env)
            return
        self.received_via[via if via != "ephemeral" else "datachannel"] += 1
        if via != self.events_via:
            self._held[via].append(env)  # until the server announces this transport
            return
        self._deliver(env)

    def _deliver(self, env: dict[str, Any]) -> None:
        if env["seq"] <= self.last_seq:
            self.duplicates += 1
            return
        self.last_seq = env["seq"]
        if self.max_queued > 0:
            if self._queue.qsize() >= self.max_queued:
                self._queue.get_nowait()  # the oldest unread event: nobody is reading
                self.unread_dropped += 1
            self._queue.put_nowait(env)
        for wanted, callback in self._callbacks:
            if wanted is None or wanted == env["type"]:
                callback(env)

    def _on_reply(self, env: dict[str, Any]) -> None:
        self.replies.append(env)
        if env.get("re"):
            self._unacked.pop(env["re"], None)
        if env["type"] == "transport":
            if (env["payload"]["events"] == "websocket" and self.webrtc and self.pc is not None
                    and self.transport == "auto" and not self._asked_websocket):
                # We did not ask for the WebSocket: the server gave up on our data channel
                # (its path died). New peer connections until one carries events again.
                if self._restoring is None or self._restoring.done():
                    self._restoring = asyncio.ensure_future(self._restore_webrtc())
                # What we sent on the dead channel may be lost: send it again (the server
                # handles an id once).
                for text in list(self._unacked.values()):
                    self._spawn(self.send_raw(text, via="websocket"))
            self.events_via = env["payload"]["events"]
            if self.events_via == "datachannel":
                self._on_dc_events.set()
            else:
                self._on_dc_events.clear()
            held, self._held[self.events_via] = self._held[self.events_via], []
            for queued in sorted(held, key=lambda e: e["seq"]):
                self._deliver(queued)
        elif env["type"] == "offer" and self.pc is not None:
            task = asyncio.ensure_future(self._answer_server_offer(env["payload"]["sdp"]))
            task.add_done_callback(lambda t: t.exception())
        re = env.get("re")
        fut = self._pending.pop(re, None) if re else None
        if fut is not None and not fut.done():
            if env["type"] == "error":
                fut.set_exception(ClientError(env["payload"]["code"], env["payload"]["message"]))
            else:
                fut.set_result(env["payload"] | {"type": env["type"]})

    async def _answer_server_offer(self, sdp: str) -> None:
        assert self.pc is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.send({"type": "answer", "sdp": self.pc.localDescription.sdp})

    def on(self, type: str | None, callback: Callable[[dict[str, Any]], Any]) -> None:
        """Call ``callback(event)`` for every stream event of ``type`` (None: all)."""
        self._callbacks.append((type, callback))

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Stream events in order, without gaps or duplicates, until the connection closes."""
        self._check_queued()
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def next_event(self, type: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        self._check_queued()

        async def find() -> dict[str, Any]:
            while True:
                event = await self._queue.get()
                if event is None:
                    raise ClientError("closed", "connection closed while waiting")
                if type is None or event["type"] == type:
                    return event

        return await asyncio.wait_for(find(), timeout)

    def _check_queued(self) -> None:
        if self.max_queued <= 0:
            raise RuntimeError("this client keeps no event queue (max_queued=0): use on()")

    # -- sending -------------------------------------------------------------------------------

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def send(self, message: dict[str, Any], via: Via | None = None) -> str:
        """Send a message (adding an ``id``); over the data channel when open unless told."""
        message = dict(message)
        message.setdefault("id", self.new_id())
        if message["type"] == "leave":
            self._left = True  # the server closes (1000): do not come back
        text = json.dumps(message)
        tracked = message["type"] not in _UNTRACKED
        if tracked:
            self._unacked[str(message["id"])] = text
        try:
            await self.send_raw(text, via)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            if not tracked:
                raise
            # Disconnected: the message waits in _unacked and goes out on reconnect.
        return str(message["id"])

    async def send_raw(self, text: str | bytes, via: Via | None = None) -> None:
        if via is None:
            via = "datachannel" if self._channel_open(self.events_channel) else "websocket"
        if via == "ephemeral" and self._channel_open(self.ephemeral_channel):
            assert self.ephemeral_channel is not None
            self.ephemeral_channel.send(text)
        elif via in ("datachannel", "ephemeral") and self._channel_open(self.events_channel):
            assert self.events_channel is not None
            self.events_channel.send(text)
        else:
            assert self.ws is not None
            if isinstance(text, bytes):
                await self.ws.send_bytes(text)
            else:
                await self.ws.send_str(text)

    @staticmethod
    def _channel_open(channel: RTCDataChannel | None) -> bool:
        return channel is not None and channel.readyState == "open"

    async def request(
        self, message: dict[str, Any], via: Via | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send and wait for the reply that names this message (raises ClientError on error)."""
        message = dict(message)
        mid = message.setdefault("id", self.new_id())
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[mid] = fut
        await self.send(message, via)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(mid, None)

    async def use_websocket(self) -> None:
        self._asked_websocket = True
        await self.send({"type": "transport", "events": "websocket"})

    async def use_datachannel(self) -> None:
        self._asked_websocket = False
        await self.send({"type": "transport", "events": "datachannel"})

    async def ping(self, timeout: float = 5.0) -> float:
        """Round trip in ms over the ephemeral channel (or the WebSocket)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        via: Via = "ephemeral" if self._channel_open(self.ephemeral_channel) else "websocket"
        await self.request({"type": "ping", "t": start}, via=via, timeout=timeout)
        return (loop.time() - start) * 1000
