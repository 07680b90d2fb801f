"""The one contract every feature plugs into, and the installed features.

A feature is a folder (``rtc_server/<feature>/``) with a ``feature.py`` that
defines a :class:`Feature` subclass and a factory ``build(core) -> Feature``.
The composition root (``signaling/app.py``) installs features from one list::

    FEATURES = (chat.build, interactions.build, content.build, media.build)

What a feature declares:

* its client messages and their handlers (:meth:`Feature.routes`); the
  dispatcher validates each message against its model at the boundary;
* its outbound event types (``events``: an :class:`EventCatalogue` kept in the
  feature's ``events.py``); ``docs/protocol.md`` documents every one (a test
  checks);
* its part of the snapshot a reconnecting client gets (:meth:`Feature.snapshot`);
* the events a backend may post over HTTP and who publishes them (:meth:`Feature.posts`:
  the edge's ``POST /api/sessions/{id}/events`` finds the feature by event type, so
  the edge names no feature);
* its reactions to core events: a connection joined or left, a peer offered or
  sent a track, a ping measured a round trip, an answer was evaluated, the load
  level changed (the ``on_*`` methods and :meth:`Feature.degrade`);
* its metrics (:meth:`Feature.collect`).

Every method has a do-nothing default, so a feature overrides only what it
uses. Features never import each other; what one feature tells the others goes
through the core (:class:`Features`), e.g. interactions reporting an evaluated
answer that the content feature reacts to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from aiortc import MediaStreamTrack
from aiortc.sdp import SessionDescription
from prometheus_client.metrics_core import Metric

from adaptive.load import LoadState
from rtc_server.base.identity import Identity
from rtc_server.base.messages import ClientMessageBase
from rtc_server.base.protocol import Audience, Event, EventCatalogue, EventType

if TYPE_CHECKING:
    from .connection import Connection
    from .peer import Peer

__all__ = ["AnswerEvaluated", "Feature", "Features", "Handler", "Post", "PostHandler", "Route",
           "ServiceKey"]

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=ClientMessageBase)
S = TypeVar("S")
#: ``handler(conn, msg, via)`` returns a reply payload with a ``type``, or None (an ``ack``
#: is sent when the message had an ``id``). Domain errors it raises become ``error`` replies.
Handler = Callable[["Connection", M, str], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Route(Generic[M]):
    """One client message type a feature accepts, and its handler."""

    model: type[M]
    handler: Handler[M]


#: ``handler(who, to, text, data)`` publishes an event posted over HTTP by ``who`` (staff or
#: the API secret's system actor, already authorised for the session, whose class is active)
#: and returns it (the edge answers its ``seq`` and ``ts``). Domain errors it raises become
#: HTTP errors at the edge.
PostHandler = Callable[[Identity, Audience, str, dict[str, Any] | None], Awaitable[Event]]


@dataclass(frozen=True)
class Post:
    """One event type a backend may post over HTTP (``POST /api/sessions/{id}/events``), and
    the handler that publishes it."""

    event: EventType
    handler: PostHandler


class ServiceKey(Generic[S]):
    """Names a service one feature offers the others (typed: ``ServiceKey[TeachingAid]``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ServiceKey({self.name!r})"


@dataclass(frozen=True, slots=True)
class AnswerEvaluated:
    """A student's answer was evaluated (told by interactions; content may react)."""

    session_id: str
    user_id: str
    correct: bool
    question_text: str


class Feature:
    """Base of every feature; override what the feature uses."""

    name: ClassVar[str]
    events: ClassVar[EventCatalogue]

    def routes(self) -> Sequence[Route[Any]]:
        return ()

    async def start(self) -> None:
        """Start background work (after every feature is installed)."""

    async def close(self) -> None:
        """Stop background work; called in reverse installation order at shutdown."""

    async def snapshot(self, who: Identity) -> dict[str, Any] | None:
        """This feature's part of a (re)joining client's snapshot, as ``who`` may see it."""
        return None

    # -- reactions to core events ------------------------------------------------------------

    async def on_join(self, conn: Connection) -> None:
        """A connection joined this process (after its welcome)."""

    async def on_leave(self, conn: Connection) -> None:
        """A connection of this process left or dropped."""

    def on_peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        """A client's offer is about to be applied (add tracks to send here).

        Raising :class:`~rtc_server.base.exceptions.InvalidRequest` refuses the offer: the
        client gets the error reply and the peer connection is left as it was.
        """

    def on_peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        """A client's peer connection received a track."""

    def on_ping(self, conn: Connection, rtt_ms: float) -> None:
        """A client reported the round trip of its previous ping."""

    async def on_answer_evaluated(self, evaluated: AnswerEvaluated) -> None:
        """An answer was evaluated (reported by the feature that evaluates answers)."""

    def degrade(self, state: LoadState) -> None:
        """The load-shedding state changed: switch expensive work off or back on."""

    def collect(self) -> Iterable[Metric]:
        """Prometheus metric families of this feature (read when scraped)."""
        return ()

    def provides(self) -> Mapping[ServiceKey[Any], object]:
        """Services this feature offers the others, by key (e.g. ``TEACHING_AID``)."""
        return {}

    def posts(self) -> Sequence[Post]:
        """Event types of this feature a backend may post over HTTP, and their handlers."""
        return ()


class Features:
    """The installed features, in installation order; fans core events out to them."""

    def __init__(self) -> None:
        self._features: list[Feature] = []

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    def add(self, feature: Feature) -> None:
        if any(f.name == feature.name for f in self._features):
            raise ValueError(f"feature {feature.name!r} is installed twice")
        for post in feature.posts():
            if self.poster(post.event.name) is not None:
                raise ValueError(f"feature {feature.name!r} posts {post.event.name!r} events, "
                                 "which an installed feature already posts")
        self._features.append(feature)

    def get(self, name: str) -> Feature:
        for feature in self._features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature {name!r}; installed: {[f.name for f in self._features]}")

    async def snapshot(self, who: Identity) -> dict[str, Any]:
        parts: dict[str, Any] = {}
        for feature in self._features:
            part = await feature.snapshot(who)
            if part is not None:
                parts[feature.name] = part
        return parts

    async def joined(self, conn: Connection) -> None:
        for feature in self._features:
            await _guard(feature, "on_join", feature.on_join(conn))

    async def left(self, conn: Connection) -> None:
        for feature in self._features:
            await _guard(feature, "on_leave", feature.on_leave(conn))

    def peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        for feature in self._features:
            feature.on_peer_offer(peer, offer, first)

    def peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        for feature in self._features:
            feature.on_peer_track(peer, track)

    def ping(self, conn: Connection, rtt_ms: float) -> None:
        for feature in self._features:
            feature.on_ping(conn, rtt_ms)

    async def answer_evaluated(self, evaluated: AnswerEvaluated) -> None:
        for feature in self._features:
            await _guard(feature, "on_answer_evaluated", feature.on_answer_evaluated(evaluated))

    def degrade(self, state: LoadState) -> None:
        for feature in self._features:
            feature.degrade(state)

    def collect(self) -> Iterator[Metric]:
        for feature in self._features:
            yield from feature.collect()

    def poster(self, event_type: str) -> PostHandler | None:
        """The handler of the installed feature that posts ``event_type`` events, or None."""
        for feature in self._features:
            for post in feature.posts():
                if post.event.name == event_type:
                    return post.handler
        return None

    def service(self, key: ServiceKey[S]) -> S | None:
        """The first installed feature's service under ``key``, or None (nobody offers it)."""
        for feature in self._features:
            offered = feature.provides().get(key)
            if offered is not None:
                return cast(S, offered)
        return None

    async def close(self) -> None:
        for feature in reversed(self._features):
            try:
                await feature.close()
            except Exception:
                logger.exception("feature %s failed to close", feature.name)


async def _guard(feature: Feature, what: str, coro: Awaitable[None]) -> None:
    """One feature failing in a reaction must not keep the others from reacting."""
    try:
        await coro
    except Exception:
        logger.exception("feature %s failed in %s", feature.name, what)
