"""Real Chromium: the teacher page publishes its (fake) camera, a student page watches it.

Chromium's fake capture device (flags in tests/browser.py) stands in for the camera;
the server decodes it, encodes the rungs once each, and the student page plays them.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.keys import CLASSROOM, MEDIA
from tests.support.browser import ConsoleErrors, chromium_in
from tests.support.server import Harness, server_config

pytestmark = pytest.mark.browser


async def wait_until(predicate, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


PLAYING = """() => {
    const v = document.querySelector('#media-video');
    return v && v.videoWidth > 0 && v.currentTime > 0 ? [v.videoWidth, v.videoHeight, v.currentTime] : null;
}"""


async def test_teacher_camera_reaches_student_page_and_rung_change_shows(
    netns, aiohttp_server
):
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,)))
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    base = f"http://{netns.host_ip}:{server.port}"
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Art")
    harness = Harness(server)
    async with chromium_in(netns, secure_origin=base) as browser:
        teacher = await browser.new_page()
        student = await browser.new_page()
        teacher_errors, student_errors = ConsoleErrors(teacher), ConsoleErrors(student)
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        await teacher.goto(f"{base}/teacher.html?token={harness.token('teacher', 'teacher')}")
        await student.wait_for_function(
            "document.body.dataset.transport === 'datachannel'", timeout=20_000
        )
        await teacher.wait_for_function(
            "window.classroom && window.classroom.pc "
            "&& window.classroom.pc.connectionState === 'connected'",
            timeout=45_000,  # a busy machine (the CI run's other browsers) can take this long
        )

        await teacher.click("#media-camera")
        try:
            await teacher.locator("#panel-media[data-publishing='camera + mic']").wait_for(
                state="attached", timeout=15_000
            )
        except Exception:
            status = await teacher.locator("#media-status").inner_text()
            raise AssertionError(f"not publishing: {status!r}; {teacher_errors.errors}") from None
        media = app[MEDIA].hub.sessions["s1"]
        # The fake camera gives 1280x720 when asked; the ladder then offers medium and low.
        await wait_until(
            lambda: (
                (ladder := media.current("video")) is not None and ladder.source_size == (1280, 720)
            ),
            timeout=20,
        )
        assert {s.role for s in media.sources} == {"camera", "microphone"}

        # The student's video plays: it has a size and its clock advances.
        first = await (await student.wait_for_function(PLAYING, timeout=20_000)).json_value()
        await student.wait_for_function(
            f"() => document.querySelector('#media-video').currentTime > {first[2] + 0.5}",
            timeout=10_000,
        )
        await student.wait_for_function(
            "() => document.querySelector('#media-video').videoHeight === 720", timeout=15_000
        )

        # The roster shows the student's rung (polled); the student's actions set it to low,
        # and a rung the source does not offer cannot be chosen.
        await teacher.locator(".roster-row[data-user='stu1'] .badge-video:text('720p')").wait_for(
            timeout=10_000)
        await teacher.click(".roster-actions[data-user='stu1']")
        assert await teacher.locator("#act-rung option[value='high']").is_disabled()
        await teacher.select_option("#act-rung", "low")
        await teacher.click("#act-rung-set")
        await student.locator("#media-rung[data-rung='low']").wait_for(timeout=10_000)
        await student.wait_for_function(
            "() => document.querySelector('#media-video').videoHeight === 480", timeout=15_000
        )
        after = await student.evaluate("document.querySelector('#media-video').currentTime")
        await student.wait_for_function(
            f"() => document.querySelector('#media-video').currentTime > {after + 0.5}",
            timeout=10_000,
        )
        await teacher.locator(".roster-row[data-user='stu1'] .badge-video:text('480p')").wait_for(
            timeout=10_000)
        await teacher.click("#act-close")
        assert "set by the teacher" in await student.locator("#media-reason").inner_text()
        # The teacher sees how many watch each rung.
        await teacher.locator("#media-rungs li[data-rung='low'][data-viewers='1']").wait_for(
            timeout=10_000)

        # A screen share is published as a second video track and replaces the camera.
        await teacher.click("#media-screen")
        await teacher.locator("#panel-media[data-publishing='camera + mic,screen']").wait_for(
            state="attached", timeout=15_000
        )
        await wait_until(lambda: any(s.role == "screen" for s in media.sources), timeout=15)
        await student.locator("#media-state:text(\"teacher's screen\")").wait_for(
            state="attached", timeout=10_000)

        assert teacher_errors.errors == []
        assert student_errors.errors == []
    await harness.close()
