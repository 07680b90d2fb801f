"""The token bucket behind every client's message rate limit."""

from __future__ import annotations

from rtc_server.base.ratelimit import TokenBucket


def test_token_bucket_allows_burst_then_rate():
    bucket = TokenBucket(rate_per_s=10, burst=3, now_s=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert 0 < bucket.retry_after_s() <= 0.1
