"""Two server processes on one Redis: the second serves the first one's lesson from the cache."""

from __future__ import annotations

import os
import subprocess
import sys

import aiohttp
import pytest

from scripts.bench_common import ServerProcess, free_port, wait_ready
from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.fake_openai import Behaviour
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import LOOPBACK, SECRET

pytestmark = pytest.mark.redis
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = {"type": "content.request", "request": {"kind": "lesson", "prompt": "Why is the sky blue?"}}


async def lesson_done(url: str, session: str) -> dict:
    token = mint_token(SECRET, session_id=session, user_id="teacher", name="T", role="teacher",
                       ttl_s=600)[0]
    client = ClassroomClient(url, token, webrtc=False, ice_host_addresses=LOOPBACK)
    await client.connect()
    try:
        reply = await client.request(LESSON)
        started = await client.next_event("content.started", timeout=20)
        done = await client.next_event("content.done", timeout=20)
        assert started["payload"]["generation_id"] == reply["generation_id"]
        return {"started": started["payload"], "done": done["payload"]}
    finally:
        await client.close()


async def test_second_process_serves_the_first_ones_entry(make_server, fake_openai):
    url, prefix = require_redis(), unique_prefix()
    fake_openai.then(Behaviour(tokens=["Light ", "scatters. ", "Blue ", "most."]))
    port = free_port()
    args = ["--port", str(port), "--api-secret", SECRET, "--ice-host-addresses", "127.0.0.1",
            "--redis-url", url, "--redis-key-prefix", prefix, "--openai-base-url",
            fake_openai.base_url, "--openai-api-key", "k", "--openai-model", "m",
            "--no-load-shedding", "--no-adaptive-quality", "--log-level", "warning"]
    proc = subprocess.Popen(  # noqa: ASYNC220 - a handle kept for the whole test
        [sys.executable, "-m", "rtc_server", *args], env=dict(os.environ, PYTHONPATH=ROOT))
    first = ServerProcess(proc, port)
    try:
        await wait_ready(first, "classroom")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{first.url}/api/sessions",
                                 headers={"Authorization": f"Bearer {SECRET}"},
                                 json={"session_id": "sky", "teacher_id": "teacher"}) as r:
                assert r.status == 201
        one = await lesson_done(first.url, "sky")
        assert one["started"]["cached"] is False
        assert len(fake_openai.chat_requests) == 1

        second = await make_server(redis_url=url, redis_key_prefix=prefix,
                                   openai_base_url=fake_openai.base_url, openai_api_key="k",
                                   openai_model="m")
        two = await lesson_done(second.url, "sky")  # the session itself is shared too
        assert two["started"]["cached"] is True
        assert two["done"]["text"] == one["done"]["text"] == "Light scatters. Blue most."
        assert len(fake_openai.chat_requests) == 1  # the provider was not called again
    finally:
        first.stop()
        await delete_prefix(url, prefix)
