from __future__ import annotations

from rtc_server.base.protocol import Audience
from rtc_server.base.ratelimit import TokenBucket
from rtc_server.patches.ice import advertise_address
from rtc_server.state.memory_bus import InProcessBus


async def test_read_after_is_exact_and_reports_a_trimmed_log():
    bus = InProcessBus(max_events=5)
    for i in range(8):
        await bus.publish("s", Audience.session(), "t", {"i": i})
    backlog = await bus.read_after("s", 5, 100)
    assert [e.seq for e in backlog.events] == [6, 7, 8] and backlog.complete
    backlog = await bus.read_after("s", 1, 100)
    assert [e.seq for e in backlog.events] == [4, 5, 6, 7, 8] and not backlog.complete
    assert (await bus.read_after("s", 8, 100)).events == []


def test_token_bucket_allows_burst_then_rate():
    bucket = TokenBucket(rate_per_s=10, burst=3, now_s=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert 0 < bucket.retry_after_s() <= 0.1


def test_advertise_address_rewrites_only_host_candidates():
    sdp = ("a=candidate:1 1 udp 2130706431 10.0.0.5 50000 typ host\r\n"
           "a=candidate:2 1 udp 1694498815 1.2.3.4 50000 typ srflx raddr 10.0.0.5 rport 50000\r\n")
    out = advertise_address(sdp, "203.0.113.9")
    assert "203.0.113.9 50000 typ host" in out
    assert "1.2.3.4 50000 typ srflx" in out
    assert advertise_address(sdp, None) == sdp
