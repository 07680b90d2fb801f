"""``python -m rtc_server`` as a real process tree (``--workers N`` or one process): start
it on a free port, wait for its workers, stop it as an operator would (SIGTERM)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

import aiohttp

from tests.support.server import SECRET

__all__ = ["ROOT", "Cluster", "free_port", "start_cluster", "stop_cluster"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    proc: asyncio.subprocess.Process
    port: int
    log_path: str
    pids: dict[str, int] = field(default_factory=dict)  # worker id -> pid, as last seen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8") as f:
            return f.read()

    async def healthz(self) -> dict:
        # A fresh connection each time: the kernel picks a worker per connection.
        async with (aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
                    as http, http.get(f"{self.url}/healthz") as resp):
            return await resp.json()

    async def wait_workers(self, ids: set[str], timeout: float = 60, *,
                           not_pids: set[int] = frozenset()) -> None:
        """Until /healthz has answered from each worker in ``ids`` (with a pid not in
        ``not_pids``)."""
        seen: set[str] = set()
        async with asyncio.timeout(timeout):
            while not ids <= seen:
                assert self.proc.returncode is None, self.log()
                try:
                    health = await self.healthz()
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
                    continue
                if health["pid"] not in not_pids:
                    seen.add(health["worker"])
                    self.pids[health["worker"]] = health["pid"]


async def start_cluster(tmp_path, *args: str, env: dict[str, str] | None = None,
                        workers: str | None = "2") -> Cluster:
    port = free_port()
    log_path = str(tmp_path / "server.log")
    cmd = [sys.executable, "-m", "rtc_server", "--port", str(port), "--api-secret", SECRET,
           "--ice-host-addresses", "127.0.0.1", "--no-load-shedding", *args]
    if workers:
        cmd += ["--workers", workers]
    with open(log_path, "w") as log:
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, stdout=log, stderr=log,
            env={**os.environ, "PYTHONPATH": ROOT, **(env or {})})
    return Cluster(proc, port, log_path)


async def stop_cluster(cluster: Cluster) -> int:
    if cluster.proc.returncode is None:
        cluster.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(cluster.proc.wait(), 45)
        except TimeoutError:
            cluster.proc.kill()
            await cluster.proc.wait()
    return cluster.proc.returncode
