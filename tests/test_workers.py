"""``classroom-rtc --workers N``: the supervisor, its workers on one port, restarts, Redis.

The server runs as a real process tree (``python -m rtc_server --workers 2``); students are
real Python clients joining through the shared port. Which worker serves a student is
the kernel's choice (SO_REUSEPORT), so tests join until both workers have students rather
than assume a spread.
"""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import psutil
import pytest

from signaling.client import ClassroomClient
from signaling.tokens import mint_token
from tests.support.cluster import Cluster, start_cluster, stop_cluster
from tests.support.server import SECRET

pytestmark = pytest.mark.redis


def token(user: str, role: str = "student") -> str:
    return mint_token(SECRET, session_id="s1", user_id=user, name=user, role=role,
                      ttl_s=600)[0]


async def broadcast(cluster: Cluster, n: int) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
        async with http.post(f"{cluster.url}/api/sessions/s1/events",
                             json={"text": f"n{n}", "data": {"n": n}}) as resp:
            assert resp.status == 202, await resp.text()


async def received(client: ClassroomClient, count: int, timeout: float = 30) -> list[int]:
    got: list[int] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            event = await client.next_event("message", timeout=timeout)
            got.append(event["payload"]["data"]["n"])
    return got


async def test_two_workers_share_a_class_and_a_killed_worker_is_restarted_without_loss(
    tmp_path, redis_prefix
):
    redis_url, prefix = redis_prefix
    cluster = await start_cluster(tmp_path, "--redis-url", redis_url,
                                  "--redis-key-prefix", prefix)
    clients: list[ClassroomClient] = []
    try:
        await cluster.wait_workers({"1", "2"})
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
            async with http.post(f"{cluster.url}/api/sessions",
                                 json={"session_id": "s1", "teacher_id": "t"}) as resp:
                assert resp.status == 201, await resp.text()
        # Students join through the one port until each worker serves at least two.
        by_worker: dict[str, list[ClassroomClient]] = {"1": [], "2": []}
        async with asyncio.timeout(90):
            while min(len(v) for v in by_worker.values()) < 2:
                assert len(clients) < 40, "the kernel never picked one of the workers"
                # Every other student on WebRTC (events on the data channel), the rest on
                # the WebSocket only: both transports, at half the join cost.
                client = ClassroomClient(cluster.url, token(f"st{len(clients)}"),
                                         ice_host_addresses=["127.0.0.1"],
                                         webrtc=len(clients) % 2 == 0)
                welcome = await client.connect()
                clients.append(client)
                by_worker[welcome["worker"]].append(client)
        for client in clients:
            if client.webrtc:
                await client.wait_datachannel(timeout=30)  # ICE works on both workers

        for n in (1, 2, 3):  # one class's broadcast reaches students on both workers
            await broadcast(cluster, n)
        for client in clients:
            assert await received(client, 3) == [1, 2, 3]

        victim_pid = cluster.pids["2"]
        os.kill(victim_pid, signal.SIGKILL)
        # Gone once the supervisor reaped it: only then have all its threads exited and its
        # listening socket left the port's group (a zombie leader may still hold it).
        async with asyncio.timeout(30):
            while psutil.pid_exists(victim_pid):
                await asyncio.sleep(0.1)
        for n in (4, 5):  # sent while worker 2's students are cut off
            await broadcast(cluster, n)
        for client in by_worker["2"]:
            # The client resumes by itself with its resume token, on whichever worker.
            async with asyncio.timeout(60):
                while client.reconnects < 1 or client.ws is None or client.ws.closed:
                    await asyncio.sleep(0.1)
        for n in (6, 7):
            await broadcast(cluster, n)
        for client in clients:
            assert await received(client, 4) == [4, 5, 6, 7]  # nothing lost, nothing twice
        assert all(client.reconnects == 0 for client in by_worker["1"])  # not affected

        # The supervisor restarted worker 2 (a new process) and said so.
        await cluster.wait_workers({"2"}, not_pids={victim_pid})
        assert cluster.pids["2"] != victim_pid
        assert f"worker 2 (pid {victim_pid}) died (killed by SIGKILL)" in cluster.log()
        worker_pids = [p.pid for p in psutil.Process(cluster.proc.pid).children()]
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        code = await stop_cluster(cluster)
    assert code == 0, cluster.log()
    assert not [pid for pid in worker_pids if psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert "w1 " in cluster.log() and "w2 " in cluster.log()  # worker ids in the log lines


async def test_workers_without_redis_url_get_a_private_redis_server(tmp_path):
    # CLASSROOM_WORKERS, the environment form of --workers.
    cluster = await start_cluster(tmp_path, env={"CLASSROOM_WORKERS": "2"}, workers=None)
    try:
        await cluster.wait_workers({"1", "2"})
        assert "started a private redis-server" in cluster.log()
        redis = [p for p in psutil.Process(cluster.proc.pid).children()
                 if "redis-server" in p.name()]
        assert len(redis) == 1
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {SECRET}"}) as http:
            async with http.post(f"{cluster.url}/api/sessions",
                                 json={"session_id": "s1", "teacher_id": "t"}) as resp:
                assert resp.status == 201
        # The session made on one worker is there on both (shared state): a student's join
        # is refused with 404 by a worker that does not know the session.
        seen: set[str] = set()
        joins = 0
        async with asyncio.timeout(60):
            while seen != {"1", "2"}:
                joins += 1
                assert joins < 40, "the kernel never picked one of the workers"
                student = ClassroomClient(cluster.url, token(f"st{joins}"), webrtc=False)
                try:
                    seen.add((await student.connect())["worker"])
                finally:
                    await student.close()
    finally:
        code = await stop_cluster(cluster)
    assert code == 0, cluster.log()
    assert not redis[0].is_running() or redis[0].status() == psutil.STATUS_ZOMBIE
    assert "private redis-server stopped" in cluster.log()


async def test_workers_refuse_without_redis_when_none_can_be_started(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    cluster = await start_cluster(tmp_path, env={"PATH": str(empty)})
    code = await asyncio.wait_for(cluster.proc.wait(), 60)
    assert code == 1
    assert "--workers > 1 needs state shared by the workers: give --redis-url" in cluster.log()
    assert "install redis-server" in cluster.log()
