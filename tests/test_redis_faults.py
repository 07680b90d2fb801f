"""Redis goes away mid-lesson and comes back empty: the class carries on without a restart.

A private redis-server (its own port: the shared one at 6379 is never touched) backs a
server with 20 students. It is killed and started again with no data. Within seconds of
its return, broadcasts reach every student again; no seq is used twice; every student
says it resynchronised (it got a snapshot, not silently fewer events); /healthz said
"degraded" while Redis was away and "ok" after; the teacher was told.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import aiohttp
import pytest

from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.server import SECRET, ServerProcess

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]
STUDENTS = 20


class PrivateRedis:
    def __init__(self, tmp_path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is needed for the Redis fault test")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


async def _health(url: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
        return {"http": resp.status, **(await resp.json())}


async def _say(http: aiohttp.ClientSession, url: str, text: str) -> int:
    async with http.post(f"{url}/api/sessions/s1/events", json={"text": text},
                         headers={"Authorization": f"Bearer {SECRET}"}) as resp:
        body = await resp.json()
        return body["seq"] if resp.status == 202 else -resp.status


async def test_redis_restarted_empty_mid_lesson(tmp_path) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    server = await ServerProcess("--redis-url", redis.url).start()
    clients: list[ClassroomClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{server.url}/api/sessions", json={
                "session_id": "s1", "teacher_id": "teacher", "subject": "Science"},
                headers={"Authorization": f"Bearer {SECRET}"})
            for i in range(STUDENTS + 1):
                role, user = ("teacher", "teacher") if i == STUDENTS else ("student", f"u{i}")
                token = mint_token(SECRET, session_id="s1", user_id=user, name=user,
                                   role=role, ttl_s=600)[0]
                client = ClassroomClient(server.url, token, webrtc=False)
                await client.connect()
                clients.append(client)
            teacher = clients[-1]
            students = clients[:-1]
            seqs = [await _say(http, server.url, f"before {i}") for i in range(5)]
            for student in students:
                texts = [(await student.next_event("message"))["payload"]["text"]
                         for _ in range(5)]
                assert texts == [f"before {i}" for i in range(5)]

            redis.kill()
            assert await _say(http, server.url, "lost") == -503  # refused, not silently lost
            health = await _health(server.url)
            assert health["http"] == 503 and health["shared_state"] == "unreachable"
            await asyncio.sleep(2)

            redis.start()  # back, and empty
            back_at = time.monotonic()
            seq = -1
            while seq < 0 and time.monotonic() - back_at < 10:
                seq = await _say(http, server.url, "after")
                if seq < 0:
                    await asyncio.sleep(0.2)
            assert seq > max(seqs), f"seq {seq} reused (before: {seqs})"
            # Every student was told to resynchronise, came back and got a snapshot.
            async with asyncio.timeout(10):
                while any(s.resynchronised == 0 for s in students):
                    await asyncio.sleep(0.1)
            final = await _say(http, server.url, "final")
            assert final > seq
            for student in students:
                while (await student.next_event("message", timeout=10)
                       )["payload"]["text"] != "final":
                    pass
            recovered_s = time.monotonic() - back_at
            print(f"broadcasts reached all {STUDENTS} students {recovered_s:.1f} s after "
                  "Redis returned")
            assert recovered_s < 5, recovered_s
            assert (await _health(server.url))["status"] == "ok"
            notices = [r["payload"] for r in teacher.replies if r["type"] == "server.status"]
            assert notices[0]["shared_state"] == "unreachable"  # the teacher was told at once
            assert teacher.welcome["shared_state"] == "ok"  # ... and rejoined to a good state
            assert "Traceback" not in server.log()
    finally:
        for client in clients:
            await client.close()
        assert await server.stop() == 0
        redis.kill()


async def test_a_dead_process_leaves_no_ghosts(tmp_path) -> None:
    """Two processes share a class; one is killed: the survivor takes its connections out of
    presence (its lease ran out) and tells the teacher, instead of showing ghosts forever."""
    redis = PrivateRedis(tmp_path)
    redis.start()
    first = await ServerProcess("--redis-url", redis.url).start()
    second = await ServerProcess("--redis-url", redis.url).start()
    clients: list[ClassroomClient] = []
    try:
        async with aiohttp.ClientSession() as http:
            await http.post(f"{first.url}/api/sessions", json={
                "session_id": "s1", "teacher_id": "teacher"},
                headers={"Authorization": f"Bearer {SECRET}"})

        def token(user: str, role: str = "student") -> str:
            return mint_token(SECRET, session_id="s1", user_id=user, name=user, role=role,
                              ttl_s=600)[0]

        teacher = ClassroomClient(first.url, token("teacher", "teacher"), webrtc=False)
        await teacher.connect()
        clients.append(teacher)
        for i in range(3):
            ghost = ClassroomClient(second.url, token(f"g{i}"), webrtc=False,
                                    auto_reconnect=False)
            await ghost.connect()
            clients.append(ghost)

        async def connections() -> dict[str, int]:
            async with aiohttp.ClientSession() as http, http.get(
                    f"{first.url}/api/sessions/s1",
                    headers={"Authorization": f"Bearer {SECRET}"}) as resp:
                parts = (await resp.json())["participants"]
            return {p["user_id"]: p["connections"] for p in parts}

        assert await connections() == {"teacher": 1, "g0": 1, "g1": 1, "g2": 1}
        second.proc.kill()  # no goodbye: its students' connections are never closed
        await second.proc.wait()
        dropped: set[str] = set()
        async with asyncio.timeout(40):
            while dropped != {"g0", "g1", "g2"}:
                event = await teacher.next_event("presence", timeout=40)
                if event["payload"]["state"] == "dropped":
                    assert event["payload"]["connections"] == 0
                    dropped.add(event["payload"]["user"])
        assert await connections() == {"teacher": 1, "g0": 0, "g1": 0, "g2": 0}
    finally:
        for client in clients:
            await client.close()
        await first.stop()
        if second.proc is not None and second.proc.returncode is None:
            await second.stop()
        redis.kill()
