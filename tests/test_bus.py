"""EventBus behaviour, the same tests for InProcessBus and RedisBus."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio

from rtc_server.base.protocol import Audience, Event, dumps, envelope_parts
from rtc_server.state.bus import EventBus
from rtc_server.state.memory_bus import InProcessBus
from rtc_server.state.redis_bus import RedisBus
from tests.support.redis_util import delete_prefix, redis_client, require_redis, unique_prefix

MakeBus = Callable[..., Awaitable[EventBus]]


@pytest.fixture
async def make_redis_bus() -> AsyncIterator[Callable[..., Awaitable[RedisBus]]]:
    url = require_redis()
    prefix = unique_prefix()
    buses: list[RedisBus] = []
    client = redis_client(url)

    async def make(max_events: int = 10_000) -> RedisBus:
        bus = RedisBus(client, max_events=max_events, key_prefix=prefix)
        buses.append(bus)
        await bus.start()
        return bus

    try:
        yield make
    finally:
        for bus in buses:
            await bus.close()
        await client.aclose()
        await delete_prefix(url, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_bus(request: pytest.FixtureRequest) -> MakeBus:
    if request.param == "redis":
        return request.getfixturevalue("make_redis_bus")

    async def make(max_events: int = 10_000) -> EventBus:
        return InProcessBus(max_events=max_events)

    return make


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_seq_starts_at_one_without_gaps(make_bus: MakeBus) -> None:
    bus = await make_bus()
    assert await bus.last_seq("s1") == 0
    events = [await bus.publish("s1", Audience.session(), "chat", {"n": n}) for n in range(25)]
    assert [e.seq for e in events] == list(range(1, 26))
    assert [json.loads(e.wire)["seq"] for e in events] == list(range(1, 26))
    assert await bus.last_seq("s1") == 25
    assert await bus.last_seq("s2") == 0
    other = await bus.publish("s2", Audience.session(), "chat", {})
    assert other.seq == 1


async def test_wire_is_the_one_envelope_both_buses_build(make_bus: MakeBus) -> None:
    bus = await make_bus()
    session = 's "quoted" | ünï\ncode'
    payload = {"text": 'Grüße | "x"\nnext', "n": [1, 2.5, None], "empty": {}}
    got: list[Event] = []
    await bus.subscribe(session, got.append)
    audiences = [Audience.session(), Audience.group('table|1 "a"'), Audience.user("ü\n")]
    published = [
        await bus.publish(session, audience, 'type "odd"|\n', payload) for audience in audiences
    ]
    for event, audience in zip(published, audiences, strict=True):
        assert event.audience == audience
        head, tail = envelope_parts(session_id=session, ts_ms=event.ts_ms,
                                    type='type "odd"|\n', audience=audience,
                                    payload_json=dumps(payload))
        assert event.wire == f"{head}{event.seq}{tail}"
        assert json.loads(event.wire)["payload"] == payload
    await wait_for(lambda: len(got) == 3)
    assert got == published
    backlog = await bus.read_after(session, 0, 10)
    assert backlog.events == published


async def test_subscribers_see_their_session_in_order(make_bus: MakeBus) -> None:
    bus = await make_bus()
    s1_a: list[Event] = []
    s1_b: list[Event] = []
    s2: list[Event] = []
    await bus.subscribe("s1", s1_a.append)
    await bus.subscribe("s1", s1_b.append)
    await bus.subscribe("s2", s2.append)
    published: dict[str, list[Event]] = {"s1": [], "s2": []}
    for n in range(60):
        session = "s1" if n % 3 else "s2"
        published[session].append(
            await bus.publish(session, Audience.user(f"u{n}"), "chat", {"n": n})
        )
    await wait_for(lambda: len(s1_a) == len(s1_b) == 40 and len(s2) == 20)
    assert s1_a == s1_b == published["s1"]
    assert s2 == published["s2"]
    assert [e.seq for e in s1_a] == list(range(1, 41))
    assert all(e.session_id == "s2" for e in s2)


async def test_subscriber_gets_events_from_subscription_on(make_bus: MakeBus) -> None:
    bus = await make_bus()
    for _ in range(3):
        await bus.publish("s1", Audience.session(), "old", {})
    got: list[Event] = []
    await bus.subscribe("s1", got.append)
    await bus.publish("s1", Audience.session(), "new", {})
    await wait_for(lambda: len(got) == 1)
    await asyncio.sleep(0.05)
    assert [(e.seq, e.type) for e in got] == [(4, "new")]


async def test_unsubscribed_handler_gets_nothing_more(make_bus: MakeBus) -> None:
    bus = await make_bus()
    stays: list[Event] = []
    leaves: list[Event] = []
    await bus.subscribe("s1", stays.append)
    unsubscribe = await bus.subscribe("s1", leaves.append)
    await bus.publish("s1", Audience.session(), "a", {})
    await wait_for(lambda: len(leaves) == 1 and len(stays) == 1)
    unsubscribe()
    await bus.publish("s1", Audience.session(), "b", {})
    await wait_for(lambda: len(stays) == 2)
    await asyncio.sleep(0.05)
    assert [e.type for e in leaves] == ["a"]


async def test_handler_error_does_not_stop_delivery(
    make_bus: MakeBus, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await make_bus()
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise ValueError("handler bug")

    await bus.subscribe("s1", broken)
    await bus.subscribe("s1", got.append)
    await bus.publish("s1", Audience.session(), "a", {})
    await bus.publish("s1", Audience.session(), "b", {})
    await wait_for(lambda: len(got) == 2)
    assert "handler failed" in caplog.text


async def test_read_after_is_exact(make_bus: MakeBus) -> None:
    bus = await make_bus()
    published = [await bus.publish("s1", Audience.session(), "e", {"n": n}) for n in range(10)]
    backlog = await bus.read_after("s1", 3, 4)
    assert backlog.events == published[3:7]
    assert backlog.complete and backlog.last_seq == 10
    backlog = await bus.read_after("s1", 0, 100)
    assert backlog.events == published and backlog.complete
    backlog = await bus.read_after("s1", 10, 5)
    assert backlog.events == [] and backlog.complete and backlog.last_seq == 10
    backlog = await bus.read_after("empty", 0, 5)
    assert backlog.events == [] and backlog.complete and backlog.last_seq == 0


async def test_read_after_reports_trimmed_log(make_bus: MakeBus) -> None:
    # Redis trims approximately (whole stream nodes of 100 entries), keeping at least
    # max_events; 350 events with max_events=5 are enough to drop the oldest.
    bus = await make_bus(max_events=5)
    published = [await bus.publish("s1", Audience.session(), "e", {"n": n}) for n in range(350)]

    backlog = await bus.read_after("s1", 0, 1000)
    assert not backlog.complete and backlog.last_seq == 350
    kept = [e.seq for e in backlog.events]
    assert 5 <= len(kept) < 350
    assert kept == list(range(351 - len(kept), 351))  # the newest, contiguous
    assert backlog.events == published[-len(kept) :]

    backlog = await bus.read_after("s1", 346, 10)
    assert backlog.complete and [e.seq for e in backlog.events] == [347, 348, 349, 350]
    oldest = kept[0]
    assert (await bus.read_after("s1", oldest - 1, 1)).complete
    assert not (await bus.read_after("s1", oldest - 2, 1)).complete


# -- Redis only -----------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_two_buses_share_seq_and_fan_out(make_redis_bus) -> None:
    first, second = await make_redis_bus(), await make_redis_bus()
    got_first: list[Event] = []
    got_second: list[Event] = []
    await first.subscribe("s1", got_first.append)
    await second.subscribe("s1", got_second.append)
    published = []
    for n in range(20):
        bus = first if n % 2 else second
        published.append(await bus.publish("s1", Audience.session(), "e", {"n": n}))
    assert [e.seq for e in published] == list(range(1, 21))
    await wait_for(lambda: len(got_first) == len(got_second) == 20)
    assert got_first == got_second == published
    assert await first.last_seq("s1") == await second.last_seq("s1") == 20


@pytest.mark.redis
async def test_redis_lost_and_duplicate_messages_are_repaired(
    make_redis_bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher, listener = await make_redis_bus(), await make_redis_bus()
    got: list[Event] = []
    await listener.subscribe("s1", got.append)
    real_on_message = listener._on_message

    async def lossy(channel: str, data: str) -> None:
        seq = int(data.split("\n", 1)[0])
        if seq in (3, 4, 7):
            return  # pub/sub lost it
        await real_on_message(channel, data)
        if seq == 5:
            await real_on_message(channel, data)  # and delivered this one twice

    monkeypatch.setattr(listener, "_on_message", lossy)
    published = [await publisher.publish("s1", Audience.session(), "e", {"n": n}) for n in range(8)]
    await wait_for(lambda: len(got) == 8)
    await asyncio.sleep(0.05)
    assert got == published


@pytest.mark.redis
async def test_redis_last_unsubscribe_releases_channel(make_redis_bus) -> None:
    bus = await make_redis_bus()
    client = redis.asyncio.Redis.from_url(require_redis(), decode_responses=True)
    channel = bus._base("s1")

    async def listeners() -> int:
        return dict(await client.pubsub_numsub(channel))[channel]

    try:
        first = await bus.subscribe("s1", lambda e: None)
        second = await bus.subscribe("s1", lambda e: None)
        assert await listeners() == 1  # one pub/sub connection per bus
        first()
        await asyncio.sleep(0.05)
        assert await listeners() == 1
        second()
        async with asyncio.timeout(5):
            while await listeners():
                await asyncio.sleep(0.01)
        # Subscribing again works after the release.
        got: list[Event] = []
        await bus.subscribe("s1", got.append)
        event = await bus.publish("s1", Audience.session(), "again", {})
        await wait_for(lambda: got == [event])
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_keys_expire(make_redis_bus) -> None:
    bus = await make_redis_bus()
    await bus.publish("s1", Audience.session(), "e", {})
    client = redis.asyncio.Redis.from_url(require_redis(), decode_responses=True)
    try:
        for key in (bus._seq_key("s1"), bus._log_key("s1")):
            assert 24 * 3600 - 60 < await client.ttl(key) <= 24 * 3600
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_reconnect_delivers_what_was_missed(make_redis_bus) -> None:
    publisher, listener = await make_redis_bus(), await make_redis_bus()
    got: list[Event] = []
    await listener.subscribe("s1", got.append)
    first = await publisher.publish("s1", Audience.session(), "e", {"n": 0})
    await wait_for(lambda: got == [first])
    # Drop the listener's pub/sub connection, then publish while it is away: pub/sub
    # loses these, and the catch-up after resubscribing must read them from the log.
    await listener._pubsub.connection.disconnect()
    published = [first] + [
        await publisher.publish("s1", Audience.session(), "e", {"n": n}) for n in range(1, 6)
    ]
    await wait_for(lambda: len(got) == 6, timeout_s=10)
    assert got == published
    # And live delivery goes on.
    last = await publisher.publish("s1", Audience.session(), "e", {"n": 6})
    await wait_for(lambda: got[-1:] == [last])
