"""With Redis configured, a restarted server keeps the session, its history and its log."""

from __future__ import annotations

import pytest

from rtc_server.base.protocol import Audience
from signaling.app import create_app
from signaling.keys import CLASSROOM
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import TICK, Harness, server_config

pytestmark = pytest.mark.redis


async def test_restart_keeps_session_history_and_resume(aiohttp_server):
    url, prefix = require_redis(), unique_prefix()
    config = server_config(redis_url=url, redis_key_prefix=prefix)
    try:
        first = Harness(await aiohttp_server(create_app(config)))
        await first.classroom.create_session(session_id="s1", teacher_id="teacher",
                                             subject="Biology", current_topic="Cells")
        student = await first.client("stu")
        await first.classroom.store.append_history("s1", "content", {"text": "lesson one"})
        for i in range(5):
            await first.classroom.publish("s1", Audience.session(), TICK, {"i": i})
        got = [(await student.next_event("tick"))["payload"]["i"] for _ in range(5)]
        assert got == list(range(5))
        await student.drop()
        for i in range(5, 8):
            await first.classroom.publish("s1", Audience.session(), TICK, {"i": i})

        await first.server.close()  # the first server process is gone

        second = Harness(await aiohttp_server(create_app(config)))
        record = await second.app[CLASSROOM].get_session("s1")
        assert (record.subject, record.current_topic, record.status) == (
            "Biology", "Cells", "active")
        assert record.content_history[-1]["text"] == "lesson one"
        student.base_url = second.url
        welcome = await student.reconnect()
        assert "resumed" in welcome
        missed = [(await student.next_event("tick"))["payload"]["i"] for _ in range(3)]
        assert missed == [5, 6, 7]
        await student.close()
        await second.close()
    finally:
        await delete_prefix(url, prefix)
