"""Slow or silent HTTP clients cannot hold the server's sockets (slowloris).

:class:`GuardedSite` is aiohttp's ``TCPSite`` with one difference: each connection
goes through a :class:`_Guard` protocol in front of aiohttp's own. Until the
connection has sent a complete request head (``\\r\\n\\r\\n``):

* it is closed if that takes longer than ``head_timeout_s`` (half-sent headers,
  or a connection that sends nothing at all);
* its address may hold at most ``max_pending_per_address`` such connections; more
  are closed at once (generous: a school's whole class can share one address).

After its head, a request is aiohttp's (keep-alive timeout, size limits); bodies
are read with a deadline by the handlers (``read_body``), and WebSockets are
watched by their heartbeat. Used by ``python -m rtc_server``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

__all__ = ["GuardedSite"]

logger = logging.getLogger(__name__)

HEAD_TIMEOUT_S = 10.0
MAX_PENDING_PER_ADDRESS = 256
_HEAD_END = b"\r\n\r\n"
_HEAD_MAX_BYTES = 64 * 1024  # past this, aiohttp's own limits refuse the request


class _Counts:
    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.refused = 0
        self.timed_out = 0


class _Guard(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol; closes what never finishes a head."""

    def __init__(self, inner: Any, counts: _Counts, head_timeout_s: float,
                 max_pending: int) -> None:
        self._inner = inner
        self._counts = counts
        self._head_timeout_s = head_timeout_s
        self._max_pending = max_pending
        self._address = ""
        self._pending = False
        self._seen = b""
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not asyncio.Transport subclasses; they behave as one.)
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if peer else "?"
        pending = self._counts.pending
        if pending.get(self._address, 0) >= self._max_pending:
            self._counts.refused += 1
            transport.abort()
            return
        pending[self._address] = pending.get(self._address, 0) + 1
        self._pending = True
        self._timer = asyncio.get_running_loop().call_later(self._head_timeout_s, self._expire)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._pending:
            self._seen = (self._seen + data)[-_HEAD_MAX_BYTES:]
            if _HEAD_END in self._seen:
                self._done()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._done()
        if self._transport is not None and hasattr(self._inner, "connection_lost"):
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            self._pending = False
            self._seen = b""
            left = self._counts.pending.get(self._address, 1) - 1
            if left > 0:
                self._counts.pending[self._address] = left
            else:
                self._counts.pending.pop(self._address, None)

    def _expire(self) -> None:
        self._timer = None
        if self._pending and self._transport is not None:
            self._counts.timed_out += 1
            logger.info("closing a connection from %s: no request head within %.0f s",
                        self._address, self._head_timeout_s)
            self._transport.abort()


class GuardedSite(web.TCPSite):
    """``web.TCPSite`` whose connections pass through the head guard."""

    def __init__(self, runner: web.BaseRunner, host: str | None = None,
                 port: int | None = None, *, head_timeout_s: float = HEAD_TIMEOUT_S,
                 max_pending_per_address: int = MAX_PENDING_PER_ADDRESS,
                 **kwargs: Any) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.counts = _Counts()
        self._guard_args = (head_timeout_s, max_pending_per_address)

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site (TCPSite.start would bind twice)
        server = self._runner.server
        assert server is not None
        factory: Callable[[], asyncio.Protocol] = lambda: _Guard(  # noqa: E731
            server(), self.counts, *self._guard_args)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, self._host, self._port, ssl=self._ssl_context, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]
        else:
            self._bound_port = self._port
