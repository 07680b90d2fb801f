"""Two server "machines" sharing one Redis: the class's video crosses them through the relay.

Each server runs in its own network namespace (veth to this one; made by the test), as
two hosts would: it reaches the other only through Redis, which the test runs on this
side of both veth pairs (a private ``redis-server`` bound to the two host addresses).
The teacher publishes on ``A``; students on ``B`` get the video relayed from ``A``. Then
``B`` is killed (SIGKILL): its students reconnect to ``A`` and resume, nothing lost, and
get the video again, now from ``A`` itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest

from rtc_server.media import SyntheticVideoTrack
from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.netns import Namespace
from tests.support.server import SECRET

pytestmark = pytest.mark.netns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 8090


def token(user: str, role: str = "student") -> str:
    return mint_token(SECRET, session_id="s1", user_id=user, name=user, role=role,
                      ttl_s=600)[0]


class Machine:
    """``python -m rtc_server`` inside a namespace, on the namespace's address."""

    def __init__(self, ns: Namespace, name: str, redis_url: str) -> None:
        self.ns, self.name = ns, name
        self.url = f"http://{ns.ns_ip}:{PORT}"
        self.args = [*ns.prefix(), sys.executable, "-m", "rtc_server", "--host", ns.ns_ip,
                     "--port", str(PORT), "--api-secret", SECRET, "--ice-host-addresses",
                     ns.ns_ip, "--no-load-shedding", "--redis-url", redis_url,
                     "--node-name", name]
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, env=dict(os.environ, PYTHONPATH=ROOT),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.ensure_future(self._read())
        async with aiohttp.ClientSession() as http, asyncio.timeout(30):
            while True:
                assert self.proc.returncode is None, self.log()
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))

    def log(self) -> str:
        return "".join(self.output)

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.returncode is None:
            # ip netns exec execs the server: the pid is the server's.
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader

    async def api(self, method: str, path: str, json: dict | None = None) -> dict:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
            async with http.request(method, self.url + path, json=json) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()


@pytest.fixture
async def machines():
    spaces = [Namespace.create("rlyA"), Namespace.create("rlyB")]
    redis_port = 6390 + os.getpid() % 500
    redis = subprocess.Popen(  # noqa: ASYNC220 - started once, before any client runs
        ["redis-server", "--port", str(redis_port), "--bind", spaces[0].host_ip,
         spaces[1].host_ip, "--save", "", "--appendonly", "no", "--protected-mode", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started: list[Machine] = []
    try:
        a = Machine(spaces[0], "A", f"redis://{spaces[0].host_ip}:{redis_port}")
        b = Machine(spaces[1], "B", f"redis://{spaces[1].host_ip}:{redis_port}")
        started += [a, b]
        await asyncio.gather(a.start(), b.start())
        yield a, b
    finally:
        await asyncio.gather(*(m.stop() for m in started), return_exceptions=True)
        redis.terminate()
        redis.wait()
        for ns in spaces:
            ns.delete()


async def received(client: ClassroomClient, count: int, timeout: float = 30) -> list[int]:
    got: list[int] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            event = await client.next_event("message", timeout=timeout)
            got.append(event["payload"]["data"]["n"])
    return got


@pytest.mark.timeout(240)
async def test_video_crosses_machines_and_students_of_a_dead_machine_resume_on_the_other(
        machines):
    a, b = machines
    await a.api("POST", "/api/sessions", {"session_id": "s1", "teacher_id": "teacher"})
    hosts = [a.ns.host_ip, b.ns.host_ip]  # the test's ICE candidates: one per veth
    clients: list[ClassroomClient] = []

    async def join(machine: Machine, user: str, **kwargs) -> ClassroomClient:
        client = ClassroomClient(machine.url, token(user, kwargs.pop("role", "student")),
                                 ice_host_addresses=hosts, **kwargs)
        await client.connect()
        clients.append(client)
        return client

    async def broadcast(n: int) -> None:
        await a.api("POST", "/api/sessions/s1/events", {"text": f"n{n}", "data": {"n": n}})

    try:
        await join(a, "teacher", role="teacher", publish=[SyntheticVideoTrack(640, 360, 10)])
        on_a = await join(a, "ada", media=True)
        on_b = [await join(b, f"bo{i}", media=True) for i in range(2)]
        for client in [on_a, *on_b]:
            await client.counters["video"].wait_frames(10, timeout_s=60)
            sample = await client.counters["video"].sample(timeout_s=30)
            assert sample is not None and (sample.width, sample.height) == (640, 360)
        media = await a.api("GET", "/api/sessions/s1/media")
        assert media["publisher_worker"] == "A"
        workers = {w["worker"]: w["viewers"] for w in media["workers"]}
        assert workers == {"A": 1, "B": 2}
        relayed = [ladder for ladder in (await b.api("GET", "/api/sessions/s1/media"))["ladders"]
                   if ladder["kind"] == "video"]
        assert relayed[0]["relayed_from"] == "A"

        for n in (1, 2):
            await broadcast(n)
        for client in [on_a, *on_b]:
            assert await received(client, 2) == [1, 2]

        for client in on_b:
            client.base_url = a.url  # where they go next: the other machine
        await b.stop(signal.SIGKILL)
        for n in (3, 4):  # sent while B's students are cut off
            await broadcast(n)
        for client in on_b:
            async with asyncio.timeout(60):
                while client.reconnects < 1 or client.ws is None or client.ws.closed:
                    await asyncio.sleep(0.1)
        for n in (5, 6):
            await broadcast(n)
        for client in [on_a, *on_b]:
            assert await received(client, 4) == [3, 4, 5, 6]  # nothing lost, nothing twice
        for client in on_b:  # and the video again, from A's own ladder now
            await client.counters["video"].wait_frames(10, timeout_s=60)
        assert on_a.reconnects == 0
        async with asyncio.timeout(30):
            while True:
                workers = {w["worker"]: w["viewers"]
                           for w in (await a.api("GET", "/api/sessions/s1/media"))["workers"]}
                if workers == {"A": 3}:
                    break
                await asyncio.sleep(0.5)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
