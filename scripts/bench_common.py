"""Helpers shared by the benchmarks: servers in subprocesses, CPU readings, percentiles."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import aiohttp
import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-secret-0123456789-0123456789-abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return round(ordered[k], 3)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 1e6

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def start_server(kind: str, *extra: str) -> ServerProcess:
    """``kind`` is "classroom" (python -m rtc_server) or "plain" (the aiortc baseline)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT)
    if kind == "classroom":
        cmd = [sys.executable, "-m", "rtc_server", "--port", str(port), "--api-secret", SECRET,
               "--ice-host-addresses", "127.0.0.1", "--log-level", "warning",
               "--rate-messages-per-s", "1000", "--rate-burst", "1000", *extra]
    else:
        cmd = [sys.executable, os.path.join(ROOT, "scripts", "baseline_plain_aiortc.py"),
               "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 - kept as a handle
    return await wait_ready(ServerProcess(proc, port), kind)


async def wait_ready(server: ServerProcess, kind: str, timeout_s: float = 20) -> ServerProcess:
    """Wait until the server answers on /ws (refusing without a token); stop it if not."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{server.url}/ws") as resp:
                    if resp.status in (400, 401, 426):
                        return server
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{kind} server did not start")
