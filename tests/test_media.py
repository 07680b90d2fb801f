"""Teacher media through the encode-once ladder, with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.client import ClientError
from signaling.keys import MEDIA
from tests.support.server import Harness


async def wait_size(client, size: tuple[int, int], timeout: float = 20.0) -> None:
    counter = client.counters["video"]
    for _ in range(int(timeout / 0.05)):
        if counter.frame_size == size:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client.welcome['user']['id']} never got {size}: {counter.stats()}")


async def wait_until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.fixture
async def lesson(server: Harness):
    """A teacher publishing a 1080p synthetic source (10 fps keeps CPU low) and a tone."""
    teacher = await server.client("teacher", "teacher", publish=[
        SyntheticVideoTrack(1920, 1080, 10), SyntheticAudioTrack()])
    hub = server.app[MEDIA].hub
    await wait_until(lambda: hub.sessions.get("s1") and hub.sessions["s1"].current("video")
                     and hub.sessions["s1"].current("video").source_size == (1920, 1080))
    return teacher, hub.sessions["s1"]


async def test_students_on_different_rungs_get_their_sizes(server: Harness, lesson):
    teacher, media = lesson
    high = await server.client("hana", media=True)
    low = await server.client("lou", media=True)
    data_only = await server.client("dora")
    await teacher.request({"type": "media.set_rung", "user": "hana", "rung": "high"})
    await teacher.request({"type": "media.set_rung", "user": "lou", "rung": "low"})
    await wait_size(high, (1920, 1080))
    await wait_size(low, (852, 480))
    assert high.counters["audio"].frames > 0
    # the data-only student has no viewer and no media at all
    assert "dora" not in {v.user_id for v in media.viewers.values()}
    assert data_only.pc.getReceivers() == []
    ladder = media.current("video")
    assert ladder.active_encoders == 2  # high and low; nobody is on medium
    event = await low.next_event("media.quality")
    assert event["payload"]["rung"] == "low" and event["payload"]["by"] == "teacher"


async def test_more_students_on_a_rung_add_no_encoder(server: Harness, lesson):
    teacher, media = lesson
    first = await server.client("a0", media=True)
    await wait_size(first, (1280, 720))  # the default rung is medium
    ladder = media.current("video")
    assert ladder.active_encoders == 1
    others = [await server.client(f"a{i}", media=True) for i in range(1, 4)]
    for other in others:
        await wait_size(other, (1280, 720))
    assert ladder.active_encoders == 1
    assert ladder.stats()["rungs"]["medium"]["subscribers"] == 4


async def test_rung_switch_delivers_a_keyframe_of_the_new_size(server: Harness, lesson):
    teacher, media = lesson
    student = await server.client("sam", media=True)
    await wait_size(student, (1280, 720))
    counter = student.counters["video"]
    keyframes_before = counter.keyframes
    await teacher.request({"type": "media.set_rung", "user": "sam", "rung": "low"})
    await wait_size(student, (852, 480), timeout=10)
    assert counter.keyframes > keyframes_before
    assert counter.max_gap_s < 3.0  # no long freeze across the switch


async def test_leaving_student_stops_the_idle_encoder(server: Harness, lesson):
    teacher, media = lesson
    stay = await server.client("stay", media=True)
    leave = await server.client("leave", media=True)
    await teacher.request({"type": "media.set_rung", "user": "leave", "rung": "high"})
    await wait_size(leave, (1920, 1080))
    ladder = media.current("video")
    assert ladder.rung("high").running
    await leave.close()
    await wait_until(lambda: not ladder.rung("high").running)
    assert ladder.rung("medium").running  # "stay" still watches medium
    assert stay.counters["video"].frames > 0


async def test_student_may_pin_a_maximum_and_not_set_others(server: Harness, lesson):
    teacher, media = lesson
    student = await server.client("meg", media=True)
    await student.request({"type": "media.max_rung", "rung": "low"})
    await wait_size(student, (852, 480))
    await teacher.request({"type": "media.set_rung", "user": "meg", "rung": "high"})
    await asyncio.sleep(1.0)
    assert student.counters["video"].frame_size == (852, 480)  # the pin wins
    with pytest.raises(ClientError) as info:
        await student.request({"type": "media.set_rung", "user": "meg", "rung": "high"})
    assert info.value.code == "forbidden"


async def test_media_api_reports_ladders_and_sets_rungs(server: Harness, lesson):
    teacher, media = lesson
    student = await server.client("api", media=True)
    headers = {"Authorization": f"Bearer {server.token('teacher', 'teacher')}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.put(f"{server.url}/api/sessions/s1/media/viewers/api",
                            json={"rung": "low"}) as resp:
            assert resp.status == 200
        await wait_size(student, (852, 480))
        async with http.get(f"{server.url}/api/sessions/s1/media") as resp:
            state = await resp.json()
        async with http.put(f"{server.url}/api/sessions/s1/media/viewers/api",
                            json={"rung": "ultra"}) as resp:
            assert resp.status == 422
    assert state["video"] is True and state["offered"] == ["high", "medium", "low"]
    (viewer,) = [v for v in state["viewers"] if v["user"] == "api"]
    assert viewer["effective"] == "low"
    assert viewer["video"]["rung"] == "low"
