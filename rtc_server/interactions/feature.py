"""The interactions feature: questions and answers, hints, help, polls and the shared board.

Its contract with the core (:class:`~rtc_server.core.feature.Feature`): the
messages in :mod:`.messages` (handled in :mod:`.handlers`), the events in
:mod:`.events`, the ``interactions`` part of a reconnecting client's snapshot;
each evaluated answer is told to the other features through the core.

State lives in an :class:`~.store.InteractionStore`: in memory, or in Redis
when the server has Redis (chosen by the core's storage). With a model
configured, free-text answers are evaluated and hints written by it; otherwise
by keyword matching and templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtc_server.base.identity import Identity
from rtc_server.core.feature import Feature, Route
from rtc_server.core.services import Services

from . import events as ev
from .evaluator import Evaluator, LocalEvaluator, TextProviderEvaluator
from .handlers import routes
from .hints import HintProvider, LocalHintProvider, TextProviderHintProvider
from .redis_store import RedisInteractionStore
from .service import Interactions
from .store import MemoryInteractionStore

__all__ = ["InteractionsFeature", "build"]


class InteractionsFeature(Feature):
    name = "interactions"
    events = ev.INTERACTION_EVENTS

    def __init__(self, interactions: Interactions) -> None:
        self.interactions = interactions

    def routes(self) -> Sequence[Route[Any]]:
        return routes(self.interactions)

    async def snapshot(self, who: Identity) -> dict[str, Any] | None:
        return await self.interactions.snapshot(who)

    async def close(self) -> None:
        await self.interactions.close()


def build(services: Services, *, evaluator: Evaluator | None = None,
          hint_provider: HintProvider | None = None) -> InteractionsFeature:
    """The feature on the core's storage; ``evaluator``/``hint_provider`` replace the defaults."""
    store = services.storage.choose(
        memory=MemoryInteractionStore,
        redis=lambda client, prefix: RedisInteractionStore(client, key_prefix=prefix))
    model = services.text_model
    # "AI when available": a configured model evaluates free text and writes hints.
    if evaluator is None:
        evaluator = TextProviderEvaluator(model) if model else LocalEvaluator()
    hints = hint_provider or (TextProviderHintProvider(model) if model else LocalHintProvider())
    return InteractionsFeature(Interactions(services.classroom, store, evaluator=evaluator,
                                            hint_provider=hints, owns_store=True))
