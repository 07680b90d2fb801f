"""Background tasks an object owns: kept referenced, guarded, cancellable.

Every task is written the same way: it records that it started, swallows
the domain errors it expects (the session ended, the question closed
meanwhile), logs anything else with a traceback, and always records that it
exited. :meth:`BackgroundTasks.close` cancels, then waits (bounded). Used by
the interactions, the content feature, the media hub and WHIP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from .exceptions import ClassroomError

__all__ = ["BackgroundTasks"]

logger = logging.getLogger(__name__)


class BackgroundTasks:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run ``coro`` in a task kept here until it ends (its result is the task's)."""
        task = asyncio.ensure_future(self._guard(coro, what))
        task.set_name(f"{self.owner} {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, Any], what: str) -> Any:
        logger.debug("%s %s started", self.owner, what)
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except ClassroomError as exc:  # expected: the session ended, the question closed, ...
            logger.info("%s %s stopped: %s", self.owner, what, exc.message)
        except Exception:
            logger.exception("%s %s failed", self.owner, what)
        finally:
            logger.debug("%s %s exited", self.owner, what)
        return None  # after a swallowed error

    async def close(self, timeout_s: float = 5.0) -> None:
        """Cancel every task, then wait up to ``timeout_s`` for them to finish."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
