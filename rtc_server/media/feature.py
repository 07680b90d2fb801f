"""The media feature: the teacher's video and audio on an encode-once ladder, per viewer.

Its contract with the core (:class:`~rtc_server.core.feature.Feature`): the
messages ``media.set_rung`` and ``media.max_rung``; the events in
:mod:`.events`; reactions to peers (a student's offer that receives media gets
viewer tracks; a teacher's track becomes a ladder), to leaving connections, to
pings (round trips feed the adaptive controller) and to load (a cap on the
rungs offered). It owns the :class:`~.hub.MediaHub`, the adaptive
:class:`~.quality_control.QualityController` and the WHIP resources
(:class:`~.whip.WhipResources`); the HTTP endpoints for them are the edge's.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.sdp import SessionDescription

from adaptive.load import LoadState
from rtc_server.core.connection import Connection
from rtc_server.core.feature import Feature, Route
from rtc_server.core.peer import Peer
from rtc_server.core.services import Services

from . import events as ev
from .handlers import routes
from .hub import MediaHub
from .quality_control import QualityController
from .relay import MediaRelay
from .whep import WhepResources
from .whip import WhipResources

__all__ = ["MediaFeature", "build"]


class MediaFeature(Feature):
    name = "media"
    events = ev.MEDIA_EVENTS

    def __init__(self, services: Services) -> None:
        self.config = services.config
        node = (self.config.node_name
                or f"{self.config.worker_id or socket.gethostname()}:{os.getpid()}")
        self.hub = MediaHub(services.classroom, initial_rung=self.config.media_initial_rung,
                            node=node, forwarder=self.config.media_forwarder,
                            gso=self.config.media_gso)
        self.quality = QualityController(self.hub)
        self.whip = WhipResources()
        self.whep = WhepResources()
        # With Redis (the deployment may have several processes), media crosses them.
        redis = services.storage.redis_bytes
        self.relay = (MediaRelay(redis, key_prefix=services.storage.key_prefix,
                                 node=node, hub=self.hub) if redis is not None else None)

    def routes(self) -> Sequence[Route[Any]]:
        return routes(self.hub)

    async def start(self) -> None:
        if self.relay is not None:
            await self.relay.start()
            self.hub.relay = self.relay
            self.whip.owners = self.whep.owners = self.relay.directory
            self.relay.directory.on_delete = self._forwarded_delete
        if self.config.adaptive_quality:
            self.quality.start()

    async def _forwarded_delete(self, kind: str, session_id: str, resource_id: str) -> None:
        resources = self.whip if kind == "whip" else self.whep
        await resources.delete(session_id, resource_id)

    async def close(self) -> None:
        await self.quality.stop()
        await self.whip.close()
        await self.whep.close()
        if self.relay is not None:
            await self.relay.close()
        await self.hub.close()

    def on_peer_offer(self, peer: Peer, offer: SessionDescription, first: bool) -> None:
        self.hub.peer_offer(peer, offer, first)

    def on_peer_track(self, peer: Peer, track: MediaStreamTrack) -> None:
        self.hub.peer_track(peer, track)

    async def on_leave(self, conn: Connection) -> None:
        await self.hub.connection_left(conn)

    def on_ping(self, conn: Connection, rtt_ms: float) -> None:
        self.quality.on_ping_rtt(conn.id, rtt_ms)

    def degrade(self, state: LoadState) -> None:
        self.hub.apply_server_cap(state.max_level)


def build(services: Services) -> MediaFeature:
    return MediaFeature(services)
