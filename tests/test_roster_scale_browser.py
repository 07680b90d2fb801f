"""Real Chromium: the teacher console with 300 connected students stays responsive.

The students are WebSocket-only bots (``/ws?client=bot&snapshot=0``, no WebRTC). The
roster is virtualised: the test checks that all 300 are counted, that only the rows in
view exist in the DOM, that filtering finds the hands, and measures each roster update's
main-thread time in the page (``window.rosterTimings``: handling the change, building the
visible rows and the layout they force).
"""

from __future__ import annotations

import asyncio
import json
import statistics

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.keys import CLASSROOM
from tests.support.browser import ConsoleErrors, chromium_in, wait_connected
from tests.support.server import Harness, server_config

pytestmark = pytest.mark.browser

BOTS = 300


async def bot(http: aiohttp.ClientSession, url: str, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(f"{url}/ws?token={token}&client=bot&snapshot=0", heartbeat=30)
    welcome = json.loads((await ws.receive()).data.split("\n")[0])
    assert welcome["type"] == "welcome", welcome
    return ws


async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _ in ws:  # the bots read what they are sent, so the server never drops them
        pass


@pytest.mark.timeout(300)
async def test_teacher_roster_with_300_students_updates_under_50ms(netns, aiohttp_server):
    # Several bots per "address": the join limits are per client address, not relevant here.
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,), rate_burst=400))
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Science")
    harness = Harness(server)
    base = f"http://{netns.host_ip}:{server.port}"
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []
    # No connector limit: every bot keeps its WebSocket (aiohttp's default pool stops at 100).
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http, \
            chromium_in(netns) as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        errors = ConsoleErrors(page)
        await page.goto(f"{base}/teacher.html?token={harness.token('teacher', 'teacher')}")
        await wait_connected(page)
        # 300 students join, 20 at a time.
        for start in range(0, BOTS, 20):
            batch = await asyncio.gather(*(
                bot(http, base, harness.token(f"stu{i:03d}", "student"))
                for i in range(start, min(start + 20, BOTS))))
            sockets.extend(batch)
            readers.extend(asyncio.ensure_future(drain(ws)) for ws in batch)
        roster = page.locator(f"#panel-roster[data-online='{BOTS}']")
        await roster.wait_for(state="attached", timeout=60_000)
        assert await page.locator("#panel-roster").get_attribute("data-total") == str(BOTS)
        rows = await page.locator(".roster-row").count()
        assert 0 < rows < 60, f"{rows} rows in the DOM: the list is not virtualised"

        # Measure from here: 40 students raise their hands, one event each.
        await page.evaluate("window.rosterTimings.length = 0")
        for i, ws in enumerate(sockets[:40]):
            await ws.send_str(json.dumps({"type": "help.request", "id": f"h{i}", "kind": "hand"}))
        await page.locator("#panel-roster[data-hands='40']").wait_for(state="attached",
                                                                       timeout=30_000)
        # And 20 leave: presence updates.
        for ws in sockets[-20:]:
            await ws.close()
        await page.locator(f"#panel-roster[data-online='{BOTS - 20}']").wait_for(
            state="attached", timeout=30_000)
        timings = await page.evaluate("window.rosterTimings.slice()")
        assert timings, "no roster update was measured"
        worst, median = max(timings), statistics.median(timings)
        print(f"\nroster updates with {BOTS} students: {len(timings)} renders, "
              f"median {median:.1f} ms, max {worst:.1f} ms of main-thread time")
        assert worst < 50, f"a roster update took {worst:.1f} ms (median {median:.1f} ms)"

        # The hands are one filter away, sorted first, and each row names its student.
        await page.select_option("#roster-filter", "hands")
        await page.locator("#panel-roster[data-shown='40']").wait_for(state="attached")
        rendered = await page.locator(".roster-row").count()
        assert await page.locator(".roster-row[data-hand='true']").count() == rendered > 0
        assert "40" in await page.locator("#roster-summary").inner_text()
        assert errors.errors == []
        for ws in sockets:
            await ws.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    await harness.close()
