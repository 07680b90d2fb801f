"""A real server on loopback for tests: its config, tokens, and real aiortc clients."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp.test_utils import TestServer

from rtc_server.base.protocol import EventType
from rtc_server.config import Config
from signaling.client import ClassroomClient
from signaling.keys import CLASSROOM
from signaling.tokens import mint_token

SECRET = "test-secret-0123456789abcdef-0123456789"
LOOPBACK = ("127.0.0.1",)
REDIS_URL = os.environ.get("CLASSROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def server_config(**overrides: Any) -> Config:
    # Load shedding off: the test process holds the clients too, so its CPU is not the
    # server's; tests of shedding feed it a synthetic load signal. Adaptive quality off:
    # rung tests set rungs by hand; the adaptive tests turn it on.
    values: dict[str, Any] = dict(api_secret=SECRET, ice_host_addresses=LOOPBACK, dev=True,
                                  load_shedding=False, adaptive_quality=False)
    values.update(overrides)
    return Config(**values)


class Harness:
    """A running server plus helpers to mint tokens and connect clients."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.app = server.app
        self.url = str(server.make_url("")).rstrip("/")
        self.clients: list[ClassroomClient] = []

    @property
    def classroom(self):
        return self.app[CLASSROOM]

    def token(
        self,
        user: str,
        role: str = "student",
        session: str = "s1",
        ttl_s: int = 600,
        secret: str = SECRET,
        now_s: float | None = None,
    ) -> str:
        return mint_token(
            secret,
            session_id=session,
            user_id=user,
            name=user.title(),
            role=role,
            ttl_s=ttl_s,
            now_s=now_s,
        )[0]

    async def client(
        self, user: str, role: str = "student", session: str = "s1", **kwargs: Any
    ) -> ClassroomClient:
        kwargs.setdefault("ice_host_addresses", LOOPBACK)
        client = ClassroomClient(self.url, self.token(user, role, session), **kwargs)
        await client.connect()
        self.clients.append(client)
        if kwargs.get("webrtc", True) and kwargs.get("transport", "auto") == "auto":
            await client.wait_datachannel()
        return client

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)


#: An event type tests publish to check delivery (not part of the protocol).
TICK = EventType("tick", "any", "a test event")


class ServerProcess:
    """``python -m rtc_server`` in a subprocess on a free loopback port (for tests that must
    not share the server's process: shutdown, signals, the client's own network faults)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.args = ["-m", "rtc_server", "--port", str(self.port), "--api-secret", SECRET,
                     "--ice-host-addresses", "127.0.0.1", "--no-load-shedding", *args]
        self.env = dict(os.environ, PYTHONPATH=root, **(env or {}))
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 20.0) -> ServerProcess:
        import sys

        import aiohttp

        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.args, env=self.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.ensure_future(self._read())
        async with aiohttp.ClientSession() as http, asyncio.timeout(timeout_s):
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError("server exited: " + "".join(self.output[-20:]))
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status in (200, 503):
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.output.append(line.decode(errors="replace"))

    def log(self) -> str:
        return "".join(self.output)

    async def stop(self, sig: int = 15, timeout_s: float = 20.0) -> int:
        """Send ``sig`` (SIGTERM) and wait for the exit status."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout_s)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise
        if self._reader is not None:
            await self._reader
        return self.proc.returncode if self.proc.returncode is not None else -1
