"""Fuzz: >= 10,000 generated client messages — valid ones of every type and broken ones —
over the WebSocket, the data channel and the HTTP API, from every role, while control
clients (one per transport) check that every broadcast of the teacher reaches them, in order.

Passes when: no record in the server's log has a traceback; no reply is ``internal_error``;
every error reply to a message with a readable id carries that id in ``re``, and every
message that must be refused is (with its ``re``); no HTTP answer is a 5xx or an error
outside the ``{"error": {"code", "message"}}`` shape; the control clients got every
broadcast once, in order; once everyone left, the process's open descriptors are back
to where they started, but for the Redis pools' idle connections (bounded, kept for reuse;
all of them are listed with the other figures). The control clients' delivery latency (p50/p99/max) and the
counts are printed as JSON (``pytest -s``); on a busy machine the latency is reported,
not asserted. ``FUZZ_SEED`` replays a run; ``FUZZ_MESSAGES`` changes its size.
Messages are paced by the server's replies (at most ``WINDOW`` unanswered per client),
so the run takes as long as the server needs: about 30-60 s here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiortc.rtcsctptransport import WEBRTC_STRING

from rtc_server.state.storage import BYTES_POOL_CONNECTIONS
from signaling.client import ClassroomClient
from tests.support.fuzz import Generated, HttpFuzzer, Known, MessageFuzzer
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import LOOPBACK, SECRET, Harness

SEED = int(os.environ.get("FUZZ_SEED", "1313"))
SOCKET_MESSAGES = int(os.environ.get("FUZZ_MESSAGES", "9200"))  # WebSocket + data channel
HTTP_REQUESTS = SOCKET_MESSAGES // 6
ROLES = ("teacher", "student", "observer", "admin")
TRANSPORTS = ("websocket", "datachannel")
WINDOW = 32  # unanswered messages per fuzzing client
BROADCAST_EVERY_S = 0.1  # a busy teacher: 10 broadcasts/s
pytestmark = pytest.mark.timeout(300)
#: Descriptors that may stay open after everyone left, besides the Redis pools' (a log
#: file or an event-loop pipe opened lazily during the run).
FD_SLACK = 3


class LogTrap(logging.Handler):
    """Keeps every record with a traceback (or at ERROR) from anywhere in the process."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.bad: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR or (
                "Traceback" in record.getMessage()):
            self.bad.append(record)


class FuzzClient(ClassroomClient):
    """The project client, keeping every reply (its own ``replies`` keeps the last 1000).

    Like any client (docs/protocol.md 5.4), it sends again what it sent on a data channel
    the server then gave up on (the server declares a silent or stuck channel dead and
    moves the events to the WebSocket) and what was not answered yet — over the
    WebSocket. Messages without a readable id are not resent (nothing can match them).
    The fuzzer also sends raw ``transport`` requests, whose replies race its own
    bookkeeping, so *every* move of the events to the WebSocket counts here (mostly ones
    it asked for: the server logs "silent" or "stuck" when it gives up on a channel).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.all_replies: list[dict[str, Any]] = []
        self.sent: list[Generated] = []
        self.answered: set[str] = set()
        self.dc_losses = 0
        self.resent = 0
        self._resends: set[asyncio.Task[None]] = set()

    def _on_reply(self, env: dict[str, Any]) -> None:
        if env.get("re"):
            self.answered.add(env["re"])
        if (env["type"] == "transport" and env["payload"]["events"] == "websocket"
                and self.events_via == "datachannel"):
            self.dc_losses += 1
            task = asyncio.ensure_future(self._resend_unanswered())
            self._resends.add(task)
            task.add_done_callback(self._resends.discard)
        self.all_replies.append(env)
        super()._on_reply(env)

    async def _resend_unanswered(self) -> None:
        for message in list(self.sent):
            if (message.via != "websocket" and message.mid is not None
                    and message.mid not in self.answered):
                self.resent += 1
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await self.send_raw(message.data, via="websocket")


@pytest.fixture(params=["memory", "redis"])
async def fuzz_server(request, make_server: Callable[..., Awaitable[Harness]]
                      ) -> AsyncIterator[tuple[str, Harness]]:
    # The limiter is not under test here (test_ratelimit.py): let the messages through.
    overrides: dict[str, Any] = {"rate_messages_per_s": 5000, "rate_burst": 5000}
    if request.param == "redis":
        overrides |= {"redis_url": require_redis(), "redis_key_prefix": unique_prefix()}
    harness = await make_server(**overrides)
    await harness.classroom.create_session(session_id="s1", teacher_id="control-teacher",
                                           subject="Science", current_topic="Cells")
    yield request.param, harness
    await harness.close()
    if "redis_url" in overrides:
        await delete_prefix(overrides["redis_url"], overrides["redis_key_prefix"])


async def test_fuzz(fuzz_server: tuple[str, Harness]) -> None:
    store, server = fuzz_server
    trap = LogTrap()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(trap)
    root.setLevel(logging.INFO)
    fds_before = _open_fds()
    try:
        report = await _run(server)
        # Everyone leaves; what the class opened must close again.
        await server.close()
        fds_after = await _settled_fds(len(fds_before))
    finally:
        root.removeHandler(trap)
        root.setLevel(old_level)
    left = {fd: target for fd, target in fds_after.items() if fds_before.get(fd) != target}
    report |= {"store": store, "seed": SEED,
               "fds": {"before": len(fds_before), "after_leave": len(fds_after),
                       "left_open": dict(Counter(_kind_of_fd(t) for t in left.values()))}}
    print("\nFUZZ " + json.dumps(report))
    # Nothing the class opened stays open, except the Redis pools' idle connections: a
    # pool keeps what its busiest moment opened (measured: 16 here) for the next callers,
    # never more than its bound, so it does not grow with the classes a server holds.
    config = server.classroom.config
    redis_port = urlsplit(config.redis_url).port or 6379 if config.redis_url else None
    pooled = [t for t in left.values() if redis_port is not None
              and _kind_of_fd(t).startswith(f"tcp -> {redis_port} ")]
    assert len(left) - len(pooled) <= FD_SLACK, f"left open after everyone left: {left}"
    assert len(pooled) <= config.redis_max_connections + BYTES_POOL_CONNECTIONS
    assert not trap.bad, [f"{r.name} {r.levelname}: {r.getMessage()[:300]}" for r in trap.bad]
    assert report["socket_messages"] + report["http_requests"] >= 10_000


async def _run(server: Harness) -> dict[str, Any]:
    rng = random.Random(SEED)
    limit = server.classroom.config.max_message_bytes
    started = time.monotonic()
    known = Known()

    # Control: a teacher broadcasting, one student per transport checking what arrives.
    teacher = await _client(server, "control-teacher", "teacher", "datachannel")
    controls = {"datachannel": await _client(server, "control-dc", "student", "datachannel"),
                "websocket": await _client(server, "control-ws", "student", "websocket")}
    sent_at: dict[int, float] = {}  # wall clock, ms: comparable with the envelopes' ts
    arrivals: dict[str, list[tuple[int, float, int]]] = {via: [] for via in controls}
    for via, control in controls.items():
        control.on("message", _arrival_recorder(arrivals[via]))
    teacher.on(None, known.observe)

    fuzzers: list[tuple[FuzzClient, MessageFuzzer, str, str]] = []
    for role in ROLES:
        for via in TRANSPORTS:
            user = f"fz-{role}-{via[:2]}"
            known.users.append(user)
            client = await _client(server, user, role, via)
            fuzzers.append((client, MessageFuzzer(random.Random(rng.random()), role, user,
                                                  known, limit=limit,
                                                  webrtc=via == "datachannel"), role, via))

    stop = asyncio.Event()

    async def broadcast() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sent_at[n] = time.time() * 1000
            await teacher.send_raw(json.dumps({"type": "message", "to": {"session": True},
                                               "text": f"ctl {n}"}))
            await asyncio.sleep(BROADCAST_EVERY_S)

    per_client = SOCKET_MESSAGES // len(fuzzers) + 1
    broadcaster = asyncio.ensure_future(broadcast())
    sent: dict[str, list[Generated]] = {}
    results = await asyncio.gather(
        *(_fuzz(client, fuzzer, via, per_client) for client, fuzzer, _, via in fuzzers),
        *(_fuzz_http(server, credential, random.Random(rng.random()), limit,
                     HTTP_REQUESTS // 8 + 1)
          for credential in _credentials(server)))
    stop.set()
    await broadcaster
    for (_, fuzzer, _, _), generated in zip(fuzzers, results[:len(fuzzers)], strict=True):
        sent[fuzzer.user] = generated  # type: ignore[assignment]
    http_results: list[dict[str, Any]] = list(results[len(fuzzers):])  # type: ignore[arg-type]

    # Every broadcast reached both control clients, once, in order.
    total = len(sent_at)
    async with asyncio.timeout(30):
        while any(len(got) < total for got in arrivals.values()):
            await asyncio.sleep(0.05)
    latency = {}
    for via, got in arrivals.items():
        assert [n for n, _, _ in got] == list(range(1, total + 1)), f"{via} lost or reordered"
        # Whole trip (teacher sends -> control receives), and its two halves: the teacher's
        # message reaching the server and being published (the envelope's ts), then the
        # event reaching the control client.
        latency[via] = {
            "send_to_receive": _percentiles([at - sent_at[n] for n, at, _ in got]),
            "send_to_publish": _percentiles([ts - sent_at[n] for n, _, ts in got]),
            "publish_to_receive": _percentiles([at - ts for _, at, ts in got])}

    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    lost_channels = resent = 0
    for client, fuzzer, role, via in fuzzers:
        generated = sent[fuzzer.user]
        lost_channels += client.dc_losses
        resent += client.resent
        counts[f"{via}/{role}"] += len(generated)
        kinds.update(g.kind for g in generated)
        assert client.close_code is None and not client.ws.closed, (
            f"{fuzzer.user} was closed by the server ({client.close_code})")
        _check_replies(fuzzer.user, client, generated)
    assert (await teacher.ping()) > 0
    http = Counter[str]()
    for result in http_results:
        http.update(result)
    return {
        "socket_messages": sum(counts.values()),
        "http_requests": sum(v for k, v in http.items() if k.startswith("as ")),
        "by_transport_and_role": dict(sorted(counts.items())),
        "by_kind": dict(sorted(kinds.items())),
        "http": dict(sorted(http.items())),
        "broadcasts": total,
        "events_moved_to_websocket": lost_channels,
        "messages_resent_after_that": resent,
        "control_latency": latency,
        "seconds": round(time.monotonic() - started, 1),
    }


def _open_fds() -> dict[int, str]:
    """This process's open file descriptors (server and clients alike), by what they are:
    a TCP socket as ``tcp <local port> -> <remote port> <state>``, so that the Redis pool's
    connections (remote port 6379) are told apart from the rest."""
    sockets = _sockets()
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd is gone already
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith("socket:["):
                target = sockets.get(target[8:-1], "socket")
            fds[int(name)] = target
    return fds


def _sockets() -> dict[str, str]:
    """inode -> description of this process's sockets (from /proc/self/net)."""
    found: dict[str, str] = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError), open(f"/proc/self/net/{proto}") as table:
            for line in list(table)[1:]:
                cols = line.split()
                local, remote = (int(a.rsplit(":", 1)[1], 16) for a in cols[1:3])
                state = "" if proto.startswith("udp") else TCP_STATES.get(cols[3], cols[3])
                found[cols[9]] = f"{proto[:3]} {local} -> {remote} {state}".rstrip()
    return found


def _kind_of_fd(target: str) -> str:
    """``tcp -> 6379 established``: a socket without its (ephemeral) local port."""
    proto, _, rest = target.partition(" ")
    return f"{proto} {rest.partition(' ')[2]}" if proto in ("tcp", "udp") else target


TCP_STATES = {"01": "established", "06": "time_wait", "08": "close_wait", "0A": "listen"}


async def _settled_fds(start: int, wait_s: float = 10.0) -> dict[int, str]:
    """The open fds once closing has settled: back to ``start``, or no change for 1 s."""
    deadline = time.monotonic() + wait_s
    fds, stable_since = _open_fds(), time.monotonic()
    while len(fds) > start and time.monotonic() < deadline \
            and time.monotonic() - stable_since < 1.0:
        await asyncio.sleep(0.1)
        now = _open_fds()
        if len(now) != len(fds):
            stable_since = time.monotonic()
        fds = now
    return fds


def _percentiles(delays_ms: list[float]) -> dict[str, float]:
    ordered = sorted(delays_ms)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
            "max_ms": round(ordered[-1], 1)}


def _arrival_recorder(into: list[tuple[int, float, int]]) -> Callable[[dict[str, Any]], None]:
    def record(event: dict[str, Any]) -> None:
        payload = event["payload"]
        if payload["from"]["user"] == "control-teacher" and payload["text"].startswith("ctl "):
            into.append((int(payload["text"][4:]), time.time() * 1000, event["ts"]))

    return record


async def _client(server: Harness, user: str, role: str, via: str) -> FuzzClient:
    client = FuzzClient(server.url, server.token(user, role),
                        transport="websocket" if via == "websocket" else "auto",
                        webrtc=via == "datachannel", ice_host_addresses=LOOPBACK)
    await client.connect()
    server.clients.append(client)
    if via == "datachannel":
        await client.wait_datachannel()
    return client


async def _fuzz(client: FuzzClient, fuzzer: MessageFuzzer, via: str, count: int
                ) -> list[Generated]:
    generated: list[Generated] = []
    silent = 0  # messages taken to need no reply (a candidate, a message without an id)
    waited_since: float | None = None
    while len(generated) < count:
        # Paced by the server: at most WINDOW messages it has not answered yet.
        if len(generated) - len(client.all_replies) - silent > WINDOW:
            now = time.monotonic()
            if waited_since is None:
                waited_since, replies_then = now, len(client.all_replies)
            elif len(client.all_replies) != replies_then:
                waited_since, replies_then = now, len(client.all_replies)
            elif now - waited_since > 0.5:  # nothing more is coming for what is out
                silent = len(generated) - len(client.all_replies)
                waited_since = None
            await asyncio.sleep(0.005)
            continue
        waited_since = None
        message = fuzzer.next()
        generated.append(message)
        client.sent = generated
        channel = via if via == "websocket" or client._channel_open(
            client.events_channel) else "websocket"
        if via == "datachannel" and message.type == "ping" and fuzzer.rng.random() < 0.3:
            channel = "ephemeral"
            message.must_fail = False  # unreliable: the message (or its reply) may be lost
        message.sent_at, message.via = time.monotonic(), channel
        try:
            if message.kind == "not_utf8_text" and channel != "websocket":
                _send_text_bytes(client, message.data)  # type: ignore[arg-type]
            else:
                await client.send_raw(message.data, via=channel)  # type: ignore[arg-type]
        except (ConnectionError, aiohttp.ClientError):
            break  # closed by the server: reported (with its close code) by the checks
        if len(generated) % 8 == 0:
            await asyncio.sleep(0)
    await _settle(client, generated)
    if client.dc_losses:
        # Also what went into a dead channel before the client learnt it was dead.
        await client._resend_unanswered()
        await _settle(client, generated)
    return generated


async def _settle(client: FuzzClient, generated: list[Generated]) -> None:
    """Wait for the answers still due: every refusal owed, then until none came for half a
    second (at most 60 s: a server starved of CPU by a busy machine may pause longer than
    any quiet window, so the owed refusals are what the wait is for)."""
    owed = {g.mid for g in generated if g.must_fail and g.mid is not None}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        before = len(client.all_replies)
        await asyncio.sleep(0.5)
        answered = {r.get("re") for r in client.all_replies if r.get("type") == "error"}
        if len(client.all_replies) == before and owed <= answered:
            break


def _send_text_bytes(client: FuzzClient, data: bytes) -> None:
    """A data-channel text message (PPID 51) whose bytes are not UTF-8: no aiortc API sends
    one, so it goes into the SCTP send queue directly."""
    channel = client.events_channel
    assert channel is not None
    channel._addBufferedAmount(len(data))
    channel.transport._data_channel_queue.append((channel, WEBRTC_STRING, data))
    task = asyncio.ensure_future(channel.transport._data_channel_flush())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


def _check_replies(user: str, client: FuzzClient, generated: list[Generated]) -> None:
    ids = {g.mid for g in generated if g.mid is not None}
    replies = [r for r in client.all_replies if r.get("type") == "error"]
    internal = [r for r in replies if r["payload"]["code"] == "internal_error"]
    assert not internal, f"{user}: internal_error replies {internal[:3]}"
    errors_by_re: dict[str | None, list[dict[str, Any]]] = {}
    for reply in replies:
        errors_by_re.setdefault(reply.get("re"), []).append(reply)
    # An error names a message this client sent, or none when the message had no readable id.
    sent_ids = ids | {g.sent_id for g in generated}
    # The client's own requests (a new offer when it re-establishes WebRTC) carry its ids.
    own = f"{client._prefix}-"
    unknown = [r for r in replies if r.get("re") is not None and r["re"] not in sent_ids
               and not str(r["re"]).startswith(own)]
    assert not unknown, f"{user}: errors naming ids never sent {unknown[:3]}"
    unreadable = sum(1 for g in generated if g.mid is None)
    nameless = errors_by_re.get(None, [])
    assert len(nameless) <= unreadable, (
        f"{user}: {len(nameless)} errors without re, but only {unreadable} messages without a "
        f"readable id: {[r['payload'] for r in nameless[:5]]}")
    missing = [g for g in generated if g.must_fail and g.mid is not None
               and g.mid not in errors_by_re]
    if missing:
        first = generated.index(missing[0])
        before = [(g.kind, g.type, g.data[:200]) for g in generated[max(0, first - 8):first]]
        last = [(r.get("re"), r["type"], str(r.get("payload"))[:150])
                for r in client.all_replies[-5:]]
    assert not missing, f"{user}: refused messages without an error naming them " + str(
        [(g.kind, g.type, g.data[:120]) for g in missing[:5]]) + (
        f"; {len(missing)} in all, from #{first}; sent before it: {before}; last replies: "
        f"{last}; closed: {client.close_code}; data channels lost: {client.dc_losses}, "
        f"missing ones went over {[g.via for g in missing[:5]]}")


def _credentials(server: Harness) -> list[tuple[str, str | None]]:
    return [("api", SECRET), ("teacher", server.token("fz-http-t", "teacher")),
            ("student", server.token("fz-http-s")),
            ("observer", server.token("fz-http-o", "observer")),
            ("admin", server.token("fz-http-a", "admin")),
            ("other-session", server.token("fz-http-x", "teacher", session="elsewhere")),
            ("forged", server.token("fz-http-f", "teacher", secret="another-secret-" + "x" * 24)),
            ("none", None)]


async def _fuzz_http(server: Harness, credential: tuple[str, str | None], rng: random.Random,
                     limit: int, count: int) -> Counter[str]:
    name, token = credential
    fuzzer = HttpFuzzer(rng, token, session="s1", limit=limit)
    seen: Counter[str] = Counter()
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            req = fuzzer.next()
            async with http.request(req.method, f"{server.url}{req.path}", data=req.body,
                                    headers=req.headers, allow_redirects=False) as resp:
                body = await resp.read()
            seen[f"as {name}"] += 1
            seen[f"status {resp.status}"] += 1
            assert resp.status < 500, (name, req.method, req.path, req.kind, body[:300])
            if resp.status >= 400:
                assert resp.content_type == "application/json", (req.path, resp.status, body)
                error = json.loads(body)["error"]
                assert set(error) == {"code", "message"} and error["code"], (req.path, body)
    return seen
