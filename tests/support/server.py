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
