"""What a WHIP publication and a WHEP playback share: an HTTP-made peer connection with a
resource URL, and the registry that finds, ends and shuts them down.

:mod:`.whip` and :mod:`.whep` each add what differs -- how the offer is answered and what
ending a resource undoes (unpublishing its tracks, or dropping its viewer).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from rtc_server.base.background import BackgroundTasks
from rtc_server.base.exceptions import ClassroomError
from rtc_server.core.peer import Peer

__all__ = ["CLOSE_TIMEOUT_S", "CONNECT_TIMEOUT_S", "ENDED_REMEMBERED", "PeerResources",
           "ResourceOwners"]

logger = logging.getLogger(__name__)

#: A peer that has not connected by then (gone after its POST, or blocked UDP) is dropped.
CONNECT_TIMEOUT_S = 30.0
#: Closing a peer connection on shutdown should take milliseconds; never wait longer than this.
CLOSE_TIMEOUT_S = 5.0
#: Ended resource ids remembered so that a late DELETE is answered as done.
ENDED_REMEMBERED = 1024


class ResourceOwners(Protocol):
    """Which process holds a WHIP/WHEP resource, when several serve the deployment (the
    media relay, :class:`~.relay.MediaRelay`): a ``DELETE`` that reaches another worker
    (``SO_REUSEPORT`` picks one per connection) is forwarded to the holder."""

    def claim(self, kind: str, session_id: str, resource_id: str) -> None: ...

    def release(self, kind: str, session_id: str, resource_id: str) -> None: ...

    async def forward_delete(self, kind: str, session_id: str, resource_id: str) -> bool: ...


class PeerResource(Protocol):
    id: str
    session_id: str
    peer: Peer
    connected: asyncio.Event


R = TypeVar("R", bound=PeerResource)


class PeerResources(Generic[R]):
    """The resources of one kind in this process, by id."""

    #: "whip" or "whep": the URL's first segment, the owners' kind, the logs' name.
    kind: ClassVar[str]
    #: Raised (404) for an id this process does not hold.
    not_found: ClassVar[type[ClassroomError]]

    def __init__(self) -> None:
        self.resources: dict[str, R] = {}
        #: resource id -> session id of resources that ended (newest last, bounded).
        self.ended: OrderedDict[str, str] = OrderedDict()
        self._tasks = BackgroundTasks(type(self).__name__)
        self._closing = False
        #: Set when several processes serve (see :class:`ResourceOwners`).
        self.owners: ResourceOwners | None = None

    @property
    def _name(self) -> str:
        return self.kind.capitalize()

    def get(self, session_id: str, resource_id: str) -> R:
        resource = self.resources.get(resource_id)
        if resource is None or resource.session_id != session_id:
            raise self.not_found(
                f"no {self.kind.upper()} resource {resource_id!r} in session {session_id!r} "
                "(it was deleted, its connection failed, or it never existed)")
        return resource

    async def delete(self, session_id: str, resource_id: str) -> None:
        """End a resource by its id; one that already ended counts as done."""
        if self.ended.get(resource_id) == session_id:
            logger.info("%s(%s) DELETE after it ended: done already", self._name, resource_id)
            return
        local = self.resources.get(resource_id)
        if (local is None or local.session_id != session_id) and self.owners is not None \
                and await self.owners.forward_delete(self.kind, session_id, resource_id):
            logger.info("%s(%s) DELETE forwarded to the process holding it", self._name,
                        resource_id)
            return
        await self.remove(self.get(session_id, resource_id))

    def _on_state(self, resource_id: str) -> Callable[[str], None]:
        """The peer's connection-state callback for the resource to be ``resource_id``."""
        def on_state(state: str) -> None:
            logger.info("%s(%s) connection %s", self._name, resource_id, state)
            resource = self.resources.get(resource_id)
            if resource is None:
                return
            if state == "connected":
                resource.connected.set()
            elif state in ("failed", "closed"):
                self._spawn(self.remove(resource))
        return on_state

    def _started(self, resource: R) -> None:
        """The resource answered: supervise it, and claim it when several processes serve."""
        self._spawn(self._supervise(resource))
        if self.owners is not None:
            self.owners.claim(self.kind, resource.session_id, resource.id)

    async def remove(self, resource: R) -> None:
        """Undo what the resource did and close its peer connection (idempotent)."""
        if self.resources.pop(resource.id, None) is None:
            return
        self.ended[resource.id] = resource.session_id
        while len(self.ended) > ENDED_REMEMBERED:
            self.ended.popitem(last=False)
        logger.info("%s(%s) ends (session %s)", self._name, resource.id, resource.session_id)
        if self.owners is not None:
            self.owners.release(self.kind, resource.session_id, resource.id)
        try:
            await self._release(resource)
        finally:
            await resource.peer.close()

    async def _release(self, resource: R) -> None:
        """What ending ``resource`` undoes in the session's media."""
        raise NotImplementedError

    async def _supervise(self, resource: R) -> None:
        """Remove the resource if it does not connect; then :meth:`_watch`."""
        try:
            await asyncio.wait_for(resource.connected.wait(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            logger.warning("%s(%s) did not connect within %.0f s; removing it", self._name,
                           resource.id, CONNECT_TIMEOUT_S)
            await self.remove(resource)
            return
        await self._watch(resource)

    async def _watch(self, resource: R) -> None:
        """While connected (nothing to watch by default)."""

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro, "resource")

    async def close(self) -> None:
        """Shutdown: refuse new resources, close each peer, then cancel what is left."""
        self._closing = True
        resources = list(self.resources.values())
        if resources:
            done = asyncio.gather(*(self.remove(r) for r in resources), return_exceptions=True)
            try:
                await asyncio.wait_for(done, CLOSE_TIMEOUT_S)
            except TimeoutError:
                logger.warning("%s: %d peer(s) did not close in time", type(self).__name__,
                               len(resources))
        await self._tasks.close()
