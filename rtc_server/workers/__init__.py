"""Several server processes on one port: the supervisor and the worker side of it.

Used only by the entry point (``rtc_server/__main__.py``) for ``--workers N``;
see :mod:`.supervisor`.
"""

from __future__ import annotations

from .private_redis import PrivateRedis, RedisUnavailable
from .supervisor import Supervisor, WorkerFailed
from .worker import serve_supervisor

__all__ = ["PrivateRedis", "RedisUnavailable", "Supervisor", "WorkerFailed", "serve_supervisor"]
