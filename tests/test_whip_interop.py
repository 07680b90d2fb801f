"""WHIP with third-party publishers: a Chromium page using the npm ``whip-whep`` client, and
GStreamer's webrtcbin (Debian's 1.22, an RSA-certificate DTLS peer).

Both run inside a test-made network namespace (veth to this one, as the browser tests do),
publish into a class, and a real aiortc viewer on the host side receives the video and audio
through the ladder. Each publisher then stops the way it does in real use; the DELETE it
sends (after closing its peer connection, in whip-whep's case) is answered as done.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc.sdp import SessionDescription

from signaling.app import create_app
from signaling.keys import CLASSROOM, MEDIA
from tests.support.browser import ConsoleErrors, chromium_in
from tests.support.server import Harness, server_config

pytestmark = pytest.mark.netns

HERE = os.path.dirname(os.path.abspath(__file__))
WHIP_JS = os.path.join(HERE, "support", "vendor", "whip-whep", "whip.js")
GST_PUBLISHER = os.path.join(HERE, "support", "gst_whip_publisher.py")
SYSTEM_PYTHON = "/usr/bin/python3"
GST_PACKAGES = ("python3-gi gir1.2-gst-plugins-bad-1.0 gstreamer1.0-plugins-bad "
                "gstreamer1.0-plugins-good gstreamer1.0-plugins-base gstreamer1.0-nice")
PAGE_PATH = "/whip-whep-test"  # the test page, added to the server's routes by the test

PAGE = """<!doctype html><meta charset="utf-8"><title>whip-whep</title><link rel="icon" href="data:,">
<canvas id="c" width="640" height="360"></canvas>
<script type="module">
import { WHIPClient } from "./whip.js";
window.fetchLog = [];
const realFetch = window.fetch;
window.fetch = async (url, init) => {
  const resp = await realFetch(url, init);
  window.fetchLog.push([(init && init.method) || "GET", resp.status]);
  return resp;
};
window.publish = async (url, token, codec) => {
  // A synthetic camera (canvas) and microphone (oscillator): no device, no secure context.
  const canvas = document.getElementById("c"), g = canvas.getContext("2d");
  let n = 0;
  setInterval(() => {
    g.fillStyle = `hsl(${(n * 7) % 360},80%,50%)`; g.fillRect(0, 0, 640, 360);
    g.fillStyle = "#fff"; g.fillRect((n * 9) % 600, 150, 40, 40); n++;
  }, 33);
  const audio = new AudioContext(), tone = audio.createOscillator();
  const out = audio.createMediaStreamDestination();
  tone.frequency.value = 440; tone.connect(out); tone.start();
  const pc = new RTCPeerConnection();
  // A teacher's slides keep their size: without this Chromium's quality scaler may send
  // H.264 at 480x270 while its bandwidth estimate ramps up on a busy machine.
  const video = pc.addTransceiver(canvas.captureStream(30).getVideoTracks()[0],
      {direction: "sendonly"});
  const params = video.sender.getParameters();
  params.degradationPreference = "maintain-resolution";
  await video.sender.setParameters(params);
  pc.addTransceiver(out.stream.getAudioTracks()[0], {direction: "sendonly"});
  const all = RTCRtpSender.getCapabilities("video").codecs;
  const wanted = all.filter(c => c.mimeType.toLowerCase() === "video/" + codec);
  if (!wanted.length) throw new Error("this Chromium cannot send " + codec);
  video.setCodecPreferences([...wanted, ...all.filter(c => !wanted.includes(c))]);
  window.client = new WHIPClient();
  window.pc = pc;
  await window.client.publish(pc, url, token);
  return window.client.resourceURL.pathname;
};
</script>"""


async def wait_until(predicate, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.1)


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def _whip_js(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WHIP_JS)


@pytest.fixture
async def classroom(netns, aiohttp_server):
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,)))
    # The page comes from the server's own origin (an address in the "local" space, as the
    # WHIP endpoint): Chromium blocks a page it sees as public from fetching local addresses.
    app.router.add_get(f"{PAGE_PATH}/index.html", _page)
    app.router.add_get(f"{PAGE_PATH}/whip.js", _whip_js)
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Art")
    harness = Harness(server)
    yield harness
    await harness.close()


async def _viewer(harness: Harness, netns):
    # The viewer gathers on the same veth address as the server (both in this process).
    return await harness.client("stu", media=True, ice_host_addresses=(netns.host_ip,))


def _answer_codec(app, kind: str) -> str:
    """The codec the server's answer chose for the (only) WHIP publisher's ``kind``.

    Read from the answer SDP: the receiver learns its codecs only once DTLS is up, which
    may be after the publisher says it is connected."""
    (resource,) = app[MEDIA].whip.resources.values()
    answer = SessionDescription.parse(resource.peer.pc.localDescription.sdp)
    for media in answer.media:
        if media.kind == kind:
            return media.rtp.codecs[0].mimeType
    raise AssertionError(f"no {kind} m-line in the answer")


@pytest.mark.browser
@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_chromium_whip_whep_client_publishes_to_students(classroom: Harness, netns, codec):
    app = classroom.app
    viewer = await _viewer(classroom, netns)
    async with chromium_in(netns) as browser:
        page = await browser.new_page()
        errors = ConsoleErrors(page)
        await page.goto(f"{classroom.url}{PAGE_PATH}/index.html")
        await page.wait_for_function("typeof window.publish === 'function'")
        location = await page.evaluate(
            "([u, t, c]) => window.publish(u, t, c)",
            [f"{classroom.url}/whip/s1", classroom.token("teacher", "teacher"), codec])
        assert location.startswith("/whip/s1/")
        await page.wait_for_function("window.pc.connectionState === 'connected'",
                                     timeout=30_000)
        assert _answer_codec(app, "video").lower() == f"video/{codec}"
        media = app[MEDIA].hub.sessions["s1"]
        await wait_until(lambda: (ladder := media.current("video")) is not None
                         and ladder.source_size == (640, 360), timeout=30)
        video, audio = viewer.counters["video"], viewer.counters["audio"]
        await wait_until(lambda: video.frames >= 30 and audio.frames >= 10, timeout=30)
        assert video.frame_size == (640, 360)

        # whip-whep's stop() closes the peer connection, then sends the DELETE.
        await page.evaluate("window.client.stop()")
        await wait_until(lambda: not app[MEDIA].whip.resources, timeout=20)
        log = await page.evaluate("window.fetchLog")
        assert ["POST", 201] in log
        assert log[-1] == ["DELETE", 200]  # done, even when the connection closed first
        assert media.current("video") is None
        # PATCH (trickle ICE) is answered 405, which the library accepts by design (Chromium
        # still logs each as a failed load); nothing else failed.
        assert all(status == 405 for method, status in log if method == "PATCH")
        assert [e for e in errors.errors if "status of 405" not in e] == []


def _gstreamer_missing() -> str | None:
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    probe = ("import gi; gi.require_version('Gst','1.0'); gi.require_version('GstWebRTC','1.0');"
             "gi.require_version('GstSdp','1.0'); from gi.repository import Gst; Gst.init(None);"
             "missing=[e for e in ('webrtcbin','nicesrc','dtlssrtpenc','vp8enc','openh264enc',"
             "'opusenc','videotestsrc') if Gst.ElementFactory.find(e) is None];"
             "print(' '.join(missing))")
    import subprocess

    proc = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1]
    return f"GStreamer elements missing: {proc.stdout.strip()}" if proc.stdout.strip() else None


@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_gstreamer_webrtcbin_publishes_to_students(classroom: Harness, netns, codec):
    missing = _gstreamer_missing()
    if missing:
        pytest.fail(f"GStreamer through {SYSTEM_PYTHON} is not usable ({missing}); "
                    f"scripts/test.sh installs Debian's {GST_PACKAGES} when run as root")
    app = classroom.app
    viewer = await _viewer(classroom, netns)
    proc = await asyncio.create_subprocess_exec(
        *netns.prefix(), SYSTEM_PYTHON, GST_PUBLISHER, f"{classroom.url}/whip/s1",
        classroom.token("encoder", "teacher"), "--codec", codec, "--size", "640x480@15",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GST_DEBUG": "1"},
    )
    try:
        lines: list[str] = []
        async with asyncio.timeout(60):
            while "connected" not in lines:
                line = (await proc.stdout.readline()).decode().strip()
                if not line:
                    err = (await proc.stderr.read()).decode()
                    raise AssertionError(f"GStreamer publisher exited: {lines} {err}")
                lines.append(line)
        # webrtcbin's DTLS certificate is RSA: this needs rtc_server/patches/dtls.py.
        assert _answer_codec(app, "video").lower() == f"video/{codec}"
        media = app[MEDIA].hub.sessions["s1"]
        await wait_until(lambda: (ladder := media.current("video")) is not None
                         and ladder.source_size == (640, 480), timeout=30)
        video, audio = viewer.counters["video"], viewer.counters["audio"]
        await wait_until(lambda: video.frames >= 30 and audio.frames >= 10, timeout=30)
        assert video.frame_size == (640, 480)

        proc.send_signal(signal.SIGTERM)  # the encoder stops: it DELETEs its resource
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert "deleted 200" in out.decode()
        assert proc.returncode == 0
        assert not app[MEDIA].whip.resources
        assert media.current("video") is None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

