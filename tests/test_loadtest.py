"""``classroom-rtc loadtest`` against a real server: the figures it reports are the ones
the students saw, and a join the server defers is retried after ``retry_after``."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from signaling.app import create_app
from signaling.keys import CLASSROOM
from signaling.loadtest.options import parse_options
from signaling.loadtest.runner import LoadTest
from signaling.loadtest.student import Latencies, StudentBot
from tests.support.server import SECRET, server_config


@pytest.fixture
async def loadtest_server(aiohttp_server):
    # The local composer as fast as it goes: the lesson ends inside a short window.
    app = create_app(server_config(local_tokens_per_s=0.0))
    return await aiohttp_server(app, host="127.0.0.1")


async def test_loadtest_reports_what_the_students_received(loadtest_server):
    url = str(loadtest_server.make_url("")).rstrip("/")
    argv = ["--url", url, "--api-secret", SECRET, "--session", "lt1", "--students", "6",
            "--video-share", "0.34", "--datachannel-share", "0.5", "--processes", "2",
            "--publish", "synthetic", "--publish-size", "320x240@10", "--rate", "5",
            "--duration", "3", "--ramp", "20", "--content"]
    report = (await LoadTest(parse_options(argv), argv).run()).data

    joins, events = report["joins"], report["events"]
    assert (joins["ok"], joins["failed"]) == (6, 0)
    # Video students are WebRTC; of the other four, every other one (share 0.5).
    assert (joins["webrtc"], joins["websocket_only"]) == (4, 2)
    assert joins["p50_ms"] is not None and joins["by_worker"] == {"0": 6}
    sent = events["broadcasts_sent"]
    assert sent >= 10 and events["send_failures"] == 0
    assert (events["receivers"], events["lost"], events["duplicated"]) == (6, 0, 0)
    assert (events["lost_by_connected"], events["disconnected_at_end"]) == (0, 0)
    assert events["latency_ms"]["samples"] == 6 * sent  # one latency per delivery
    assert report["content"]["finished"] == "content.done"
    assert report["content"]["chunks_per_student_p50"] == report["content"]["chunks"] > 0
    video = report["video"]
    assert (video["students"], video["receiving"]) == (2, 2)
    assert video["rungs"] == {"240p": 2}  # a source below the ladder: one rung, its size
    assert video["fps_by_rung"]["240p"]["min"] > 0
    assert video["kbps_per_student"]["min"] > 0
    server = report["server"]
    assert server["available"] and set(server["workers"]) == {"0"}
    assert server["workers"]["0"]["rss_mb"] > 0
    assert set(report["loadtest_cpu_cores"]) == {"teacher", "bots0", "bots1"}


async def test_a_deferred_join_waits_retry_after_then_joins(aiohttp_server):
    refusals = 0
    admitting = asyncio.Event()

    @web.middleware
    async def admission(request: web.Request, handler):
        nonlocal refusals
        if request.path == "/ws" and not admitting.is_set():
            refusals += 1
            return web.json_response({"error": {"code": "join_queue_full", "message": "busy",
                                                "retry_after_ms": 200}}, status=503)
        return await handler(request)

    app = create_app(server_config())
    app.middlewares.append(admission)
    server = await aiohttp_server(app, host="127.0.0.1")
    await app[CLASSROOM].create_session(session_id="lt2", teacher_id="t")
    url = str(server.make_url("")).rstrip("/")
    options = parse_options(["--url", url, "--api-secret", SECRET, "--session", "lt2",
                             "--students", "3", "--datachannel-share", "0"])
    bots = [StudentBot(i, options, Latencies()) for i in range(3)]
    joins = asyncio.gather(*(bot.join() for bot in bots))
    async with asyncio.timeout(30):
        while refusals < 3:  # every student was told to come back later
            await asyncio.sleep(0.02)
    admitting.set()
    await joins
    try:
        assert all(bot.joined and bot.error is None for bot in bots)
        assert all(bot.waits >= 1 and bot.attempts == bot.waits + 1 for bot in bots)
        assert all(bot.join_ms >= 150 for bot in bots)  # the wait is part of the join time
    finally:
        await asyncio.gather(*(bot.close() for bot in bots))


def test_classroom_rtc_loadtest_is_the_load_test(capsys, monkeypatch):
    from rtc_server.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["loadtest", "--help"])
    assert exited.value.code == 0
    assert "--video-share" in capsys.readouterr().out
    monkeypatch.delenv("CLASSROOM_API_SECRET", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["loadtest", "--students", "5"])
    assert exited.value.code == 2
    assert "--api-secret (or CLASSROOM_API_SECRET) is required" in capsys.readouterr().err


async def test_a_student_that_resumes_keeps_its_video_counts(aiohttp_server):
    from rtc_server.media import SyntheticVideoTrack
    from signaling.keys import MEDIA

    app = create_app(server_config())
    server = await aiohttp_server(app, host="127.0.0.1")
    await app[CLASSROOM].create_session(session_id="lt3", teacher_id="t")
    await app[MEDIA].hub.session("lt3").publish(SyntheticVideoTrack(320, 240, 10),
                                                 origin="synthetic", role="camera")
    options = parse_options(["--url", str(server.make_url("")).rstrip("/"), "--api-secret",
                             SECRET, "--session", "lt3", "--students", "1", "--video-share", "1"])
    bot = StudentBot(0, options, Latencies())
    await bot.join()
    try:
        assert bot.joined and bot.video
        async with asyncio.timeout(30):
            while bot.frames_total() < 5:
                await asyncio.sleep(0.05)
        bot.mark_window("start")
        frames = bot.frames_total()
        await bot.client.drop()  # the connection is lost mid-measurement
        assert bot.dropped
        assert await bot.reconnect()
        async with asyncio.timeout(30):
            while bot.frames_total() < frames + 5:  # counted by the new receiver, added on
                await asyncio.sleep(0.05)
        bot.mark_window("end")
        figures = bot.video_figures()
        assert bot.reconnects == 1
        assert figures["fps"] > 0 and figures["bps"] > 0
        assert figures["frame_size"] == [320, 240]
    finally:
        await bot.close()


def test_video_and_data_channel_students_are_spread_over_every_bot_process():
    # Every tenth student of two interleaved bot processes is odd: one process used to get
    # all the video students and became the load test's bottleneck.
    import dataclasses

    options = parse_options(["--api-secret", SECRET, "--students", "1000", "--video-share", "0.1",
                             "--datachannel-share", "0.3", "--processes", "2"])
    for child in range(2):
        mine = dataclasses.replace(options, child_index=child).bot_indices()
        assert sum(options.wants_video(i) for i in mine) == 50
        assert sum(options.wants_datachannel(i) for i in mine) == 150
