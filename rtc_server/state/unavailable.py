"""Redis being away is a domain condition, not a crash: one translation for every Redis store.

:func:`redis_errors_as_unavailable` wraps every public coroutine method of a
class so that a ``redis.exceptions.RedisError`` (connection refused or lost, a
timeout, a loading dataset) becomes :class:`~rtc_server.base.exceptions.
ServiceUnavailable`: the client who asked gets a 503 / ``unavailable`` error and
retries, the log gets one line instead of a traceback, and nothing else stops.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from redis.exceptions import RedisError

from rtc_server.base.exceptions import ServiceUnavailable

__all__ = ["redis_errors_as_unavailable"]

logger = logging.getLogger(__name__)
C = TypeVar("C", bound=type)


def _wrap(name: str, method: Callable[..., Coroutine[Any, Any, Any]]
          ) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            logger.warning("%s: Redis unavailable: %s", name, exc)
            raise ServiceUnavailable(
                "shared state (Redis) is unreachable right now; try again in a moment"
            ) from exc

    return wrapper


def redis_errors_as_unavailable(cls: C) -> C:
    """Class decorator: every public ``async def`` turns RedisError into ServiceUnavailable."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _wrap(f"{cls.__name__}.{name}", member))
    return cls
