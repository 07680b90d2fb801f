"""Load shedding: a synthetic load signal drives the server through the steps and back."""

from __future__ import annotations

import aiohttp
import pytest

from signaling.client import ClientError
from signaling.keys import MEDIA, SERVICES
from tests.support.server import Harness


async def test_synthetic_load_switches_features_off_and_on_in_order(server: Harness):
    teacher = await server.client("teacher", "teacher")
    monitor = server.app[SERVICES].load
    hub = server.app[MEDIA].hub
    caps: list[str] = ["high"]  # the media feature's rung cap, each time it changes
    t = 0.0

    async def hold(load: float, seconds: float) -> list:
        nonlocal t
        changes = []
        for _ in range(int(seconds * 2)):
            t += 500
            changes += await monitor.feed(t, load)
            cap = hub.server_cap or "high"
            if not caps or caps[-1] != cap:
                caps.append(cap)
        return changes

    visual = {"type": "content.request", "request": {"kind": "visual",
                                                     "description": "the water cycle"}}
    personal = {"type": "content.request", "request": {
        "kind": "personalized", "prompt": "Plants", "students": [{"user_id": "x"}]}}

    # Step 1 (> 0.7): streaming capped, visuals still allowed. The shedder acts on the load
    # sustained over several seconds (adaptive.load), so each level is held ~10 s.
    changes = await hold(0.75, 10)
    assert [c.feature for c in changes] == ["streaming_quality"]
    assert caps == ["high", "medium"]
    assert (await teacher.request(visual))["type"] == "content.accepted"
    # Step 2 (> 0.8): visuals limited.
    changes = await hold(0.85, 8)
    assert [c.feature for c in changes] == ["visuals"]
    with pytest.raises(ClientError, match="visual generation is paused"):
        await teacher.request(visual)
    # Step 3 (> 0.9): expensive AI off, streams at low.
    changes = await hold(0.95, 9)
    assert {c.feature for c in changes} == {"expensive_ai", "streaming_quality"}
    assert caps[-1] == "low"
    with pytest.raises(ClientError, match="personalised generation is paused"):
        await teacher.request(personal)
    # The teacher saw each step.
    steps = []
    while len(steps) < 3:
        event = await teacher.next_event("server.load")
        steps.append(event["payload"]["step"])
    assert steps == [1, 2, 3]
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    assert "classroom_load_step 3.0" in text
    # Recovery with hysteresis: a load just under a threshold does not recover...
    assert await hold(0.85, 10) == []
    # ...below threshold minus the margin, one step at a time, features back in reverse order.
    back = await hold(0.1, 25)
    assert [(c.feature, c.step) for c in back] == [
        ("streaming_quality", 2), ("expensive_ai", 2), ("visuals", 1), ("streaming_quality", 0)]
    assert monitor.shedder.state.step == 0
    assert caps[-2:] == ["medium", "high"]
    assert caps[-1] == "high"
    assert (await teacher.request(personal))["type"] == "content.accepted"


async def test_staff_welcome_carries_the_current_load_status(server: Harness):
    first = await server.client("teacher", "teacher")
    assert first.welcome["server_load"]["step"] == 0
    monitor = server.app[SERVICES].load
    t = 0.0
    while monitor.shedder.state.step == 0:  # a sustained load over 0.7: step 1
        t += 500
        await monitor.feed(t, 0.75)
    # A page opened now shows the step from the start, not only after the next change.
    again = await server.client("teacher", "teacher")
    load = again.welcome["server_load"]
    assert (load["step"], load["max_level"]) == (1, "medium")
    assert isinstance(load["monitoring"], bool)
    student = await server.client("ann", "student")
    assert "server_load" not in student.welcome
