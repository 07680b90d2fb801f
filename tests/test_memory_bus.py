from __future__ import annotations

from rtc_server.base.protocol import Audience
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
