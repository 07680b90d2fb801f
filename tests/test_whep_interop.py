"""WHEP with a third-party player: a Chromium page using the npm ``whip-whep`` client's
``WHEPClient`` plays a rung of a class.

The page runs inside a test-made network namespace (veth to this one, as the browser tests
do). A synthetic teacher publishes into the class; the page views ``/whep/s1?rung=low``
with a student's token and must decode the low rung (852x480 of a 720p source) and receive
audio. Its ``stop()`` closes the peer connection, then sends the DELETE, answered as done.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from rtc_server.media import SyntheticAudioTrack, SyntheticVideoTrack
from signaling.app import create_app
from signaling.keys import CLASSROOM, MEDIA
from tests.support.browser import ConsoleErrors, chromium_in
from tests.support.server import Harness, server_config

pytestmark = [pytest.mark.netns, pytest.mark.browser]

HERE = os.path.dirname(os.path.abspath(__file__))
WHEP_JS = os.path.join(HERE, "support", "vendor", "whip-whep", "whep.js")
PAGE_PATH = "/whep-test"

PAGE = """<!doctype html><meta charset="utf-8"><title>whep</title><link rel="icon" href="data:,">
<video id="v" autoplay muted playsinline></video>
<script type="module">
import { WHEPClient } from "./whep.js";
window.fetchLog = [];
const realFetch = window.fetch;
window.fetch = async (url, init) => {
  const resp = await realFetch(url, init);
  window.fetchLog.push([(init && init.method) || "GET", resp.status]);
  return resp;
};
window.frames = 0;
window.view = async (url, token) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", {direction: "recvonly"});
  pc.addTransceiver("audio", {direction: "recvonly"});
  const v = document.getElementById("v");
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); v.srcObject = stream; };
  const count = () => { window.frames++; v.requestVideoFrameCallback(count); };
  v.requestVideoFrameCallback(count);
  window.client = new WHEPClient();
  window.pc = pc;
  await window.client.view(pc, url, token);
  return window.client.resourceURL.pathname;
};
window.audioPackets = async () => {
  const stats = await window.pc.getStats();
  let n = 0;
  stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "audio") n = s.packetsReceived; });
  return n;
};
</script>"""


async def wait_until(predicate, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _whep_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WHEP_JS)


@pytest.fixture
async def classroom(netns, aiohttp_server):
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,)))
    app.router.add_get(f"{PAGE_PATH}/index.html", _page)
    app.router.add_get(f"{PAGE_PATH}/whep.js", _whep_js)
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Art")
    harness = Harness(server)
    yield harness
    await harness.close()


async def test_chromium_whep_client_plays_a_rung_of_the_class(classroom: Harness, netns):
    app = classroom.app
    await classroom.client("teacher", "teacher", ice_host_addresses=(netns.host_ip,),
                           publish=[SyntheticVideoTrack(1280, 720, 15), SyntheticAudioTrack()])
    media = app[MEDIA].hub.session("s1")
    await wait_until(lambda: (ladder := media.current("video")) is not None
                     and ladder.source_size == (1280, 720), timeout=30)
    async with chromium_in(netns) as browser:
        page = await browser.new_page()
        errors = ConsoleErrors(page)
        await page.goto(f"{classroom.url}{PAGE_PATH}/index.html")
        await page.wait_for_function("typeof window.view === 'function'")
        location = await page.evaluate(
            "([u, t]) => window.view(u, t)",
            [f"{classroom.url}/whep/s1?rung=low", classroom.token("stu", "student")])
        assert location.startswith("/whep/s1/")
        await page.wait_for_function("window.frames >= 30", timeout=30_000)
        size = await page.evaluate("[document.getElementById('v').videoWidth, "
                                   "document.getElementById('v').videoHeight]")
        assert size == [852, 480]
        await page.wait_for_function("window.audioPackets().then(n => n > 20)", timeout=20_000)
        (viewer,) = [v for v in media.viewers.values() if v.conn_id.startswith("whep:")]
        assert viewer.user_id == "stu" and viewer.wanted == "low"

        await page.evaluate("window.client.stop()")
        await wait_until(lambda: not app[MEDIA].whep.resources, timeout=20)
        log = await page.evaluate("window.fetchLog")
        assert ["POST", 201] in log
        assert log[-1] == ["DELETE", 200]
        assert not [v for v in media.viewers.values() if v.conn_id.startswith("whep:")]
        # PATCH (trickle ICE) is answered 405, which the library accepts; nothing else failed.
        assert all(status == 405 for method, status in log if method == "PATCH")
        assert [e for e in errors.errors if "status of 405" not in e] == []
