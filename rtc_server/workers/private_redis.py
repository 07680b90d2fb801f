"""A private ``redis-server`` for the workers of one supervisor, when none was configured.

It listens only on a Unix socket in a fresh temporary directory (no TCP port to
collide with or to expose), keeps nothing on disk (``save ""``, no AOF), and is
stopped, and its directory removed, when the supervisor exits. It runs in its own
process group (a terminal's Ctrl-C must not stop it before the workers finish
with it); on Linux the kernel also stops it if the supervisor is killed
(``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile

__all__ = ["PrivateRedis", "RedisUnavailable"]

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class RedisUnavailable(Exception):
    """No redis-server to start (or it would not start)."""


class PrivateRedis:
    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or shutil.which("redis-server")
        self.proc: asyncio.subprocess.Process | None = None
        self.dir: str | None = None
        self.version = ""

    @property
    def socket_path(self) -> str:
        assert self.dir is not None
        return os.path.join(self.dir, "redis.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def describe(self) -> str:
        return f"redis-server {self.version} ({self.executable})".replace("  ", " ")

    async def start(self) -> str:
        """Start it and wait until it answers; returns its URL."""
        if self.executable is None:
            raise RedisUnavailable(
                "--workers > 1 needs state shared by the workers: give --redis-url (or "
                "REDIS_URL), or install redis-server (Debian: apt-get install redis-server) so "
                "that a private one can be started")
        self.version = _version(self.executable)
        self.dir = tempfile.mkdtemp(prefix="classroom-rtc-redis-")
        self.proc = await asyncio.create_subprocess_exec(
            self.executable, "--port", "0", "--unixsocket", self.socket_path,
            "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", self.dir,
            "--daemonize", "no", "--loglevel", "warning",
            stdout=asyncio.subprocess.DEVNULL, process_group=0, preexec_fn=_die_with_parent,
        )
        try:
            await asyncio.wait_for(self._answers(), START_TIMEOUT_S)
        except (TimeoutError, RedisUnavailable):
            await self.stop()
            raise RedisUnavailable(f"{self.executable} did not start (within "
                                   f"{START_TIMEOUT_S:.0f} s)") from None
        return self.url

    async def _answers(self) -> None:
        assert self.proc is not None
        while True:
            if self.proc.returncode is not None:
                raise RedisUnavailable(f"exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
                try:
                    writer.write(b"PING\r\n")
                    if (await reader.readline()).strip() == b"+PONG":
                        return
                finally:
                    writer.close()
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
            logger.info("private redis-server stopped")
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies (Linux; else nothing)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _version(executable: str) -> str:
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    # "Redis server v=7.0.15 sha=..." -> "7.0.15"
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return ""
