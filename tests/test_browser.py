"""Real Chromium: the student page joins over WebRTC and shows a data-channel event."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.keys import CLASSROOM
from tests.support.browser import chromium_in
from tests.support.server import server_config

pytestmark = pytest.mark.browser


async def test_student_page_joins_over_webrtc_and_shows_datachannel_event(netns, aiohttp_server):
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,)))
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    classroom = app[CLASSROOM]
    await classroom.create_session(session_id="s1", teacher_id="teacher", subject="Science")
    from tests.support.server import Harness

    harness = Harness(server)
    token = harness.token("stu1", "student")
    base = f"http://{netns.host_ip}:{server.port}"
    async with chromium_in(netns) as browser:
        page = await browser.new_page()
        await page.goto(f"{base}/student.html?token={token}")
        # The page announces the switch to the data channel once it is open.
        await page.wait_for_function("document.body.dataset.transport === 'datachannel'",
                                     timeout=20_000)
        teacher = await harness.client("teacher", "teacher", webrtc=False)
        ack = await teacher.request({"type": "message", "to": {"session": True},
                                     "text": "Welcome to photosynthesis"})
        message = page.locator(f"#messages .message[data-seq='{ack['seq']}']")
        await message.wait_for(timeout=10_000)
        assert "Welcome to photosynthesis" in await message.inner_text()
        via = await page.evaluate("window.classroom.eventsVia")
        assert via == "datachannel"
        # In words, with no close code: connected over WebRTC.
        assert await page.locator("#conn").inner_text() == "Connected"
        await harness.close()
