"""The worker side of ``--workers``: report readiness, and stop when the supervisor is gone.

The supervisor hands each worker one end of a socket pair (``--worker-socket-fd``):
the worker writes ``ready`` on it once it serves, and reads it until end-of-file,
which the kernel delivers when the supervisor's end closes — also when the
supervisor is killed, so no worker outlives it.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from rtc_server.config import Config

__all__ = ["serve_supervisor"]

logger = logging.getLogger(__name__)


async def serve_supervisor(config: Config, stop: asyncio.Event) -> None:
    """Report ``ready``, then set ``stop`` when the supervisor's end closes."""
    sock = socket.socket(fileno=config.worker_socket_fd)
    sock.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        writer.write(b"ready\n")
        await writer.drain()
        await reader.read()  # nothing is ever sent: this returns at end-of-file
        logger.warning("the supervisor is gone; stopping")
    except ConnectionError as exc:
        logger.warning("lost the supervisor (%s); stopping", exc)
    finally:
        writer.close()
    stop.set()
