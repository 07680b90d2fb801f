"""Wiring: build the interaction service for an app and register its messages.

In ``signaling/app.py``'s lifecycle, after the dispatcher is made::

    interactions = install_interactions(dispatcher, classroom, redis_url=config.redis_url)
    ...
    yield
    await interactions.close()          # before classroom.close()
"""

from __future__ import annotations

from rtc_server.classroom import Classroom
from rtc_server.dispatcher import Dispatcher

from .evaluator import Evaluator
from .handlers import install as install_handlers
from .hints import HintProvider
from .service import Interactions
from .store import InteractionStore, MemoryInteractionStore

__all__ = ["install", "install_interactions", "make_store"]


def make_store(redis_url: str | None, *, key_prefix: str = "crtc:") -> InteractionStore:
    """Redis when a URL is given (several processes share state), else in memory."""
    if redis_url:
        from .redis_store import RedisInteractionStore

        return RedisInteractionStore(redis_url, key_prefix=key_prefix)
    return MemoryInteractionStore()


def install(
    dispatcher: Dispatcher, classroom: Classroom, *, redis_url: str | None,
    key_prefix: str = "crtc:", evaluator: Evaluator | None = None,
    hint_provider: HintProvider | None = None,
) -> Interactions:
    """Create :class:`Interactions` on the right store and register its handlers.

    ``Interactions.close()`` stops its tasks and closes the store it was given here.
    """
    store = make_store(redis_url, key_prefix=key_prefix)
    interactions = Interactions(classroom, store, evaluator=evaluator,
                                hint_provider=hint_provider, owns_store=True)
    install_handlers(dispatcher, interactions)
    return interactions


install_interactions = install
