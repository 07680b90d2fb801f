"""Workaround: media negotiated while the DTLS handshake runs is never started.

Checked against aiortc 1.16 (``RTCPeerConnection.__connect``): every
``setRemoteDescription``/``setLocalDescription`` schedules ``__connect``, which
starts a transceiver's RTP sender and receiver only if its DTLS transport is
already "connected". The first ``__connect`` (the one waiting for the handshake)
has passed the transceiver list by then — for a client that connects with data
channels only, it waits on the data channel's transport, after the transceiver
loop — and a later one finds the handshake still "connecting" and skips them. So
a track added by a renegotiation that lands during the handshake (a teacher's
page republishing its camera right after a reconnect, on a new peer connection)
is answered but never received: not one frame reaches the server.

:func:`start_media_negotiated_during_handshake` runs ``__connect`` once more when
the connection becomes "connected"; every step of it is idempotent (ICE start
waits for a start in progress, DTLS starts only when "new", sender, receiver and
SCTP start once). *Can go when* aiortc starts transceivers negotiated during the
handshake.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import RTCPeerConnection

from .versions import supported

__all__ = ["start_media_negotiated_during_handshake"]

logger = logging.getLogger(__name__)

_pending: set[asyncio.Future[Any]] = set()


def start_media_negotiated_during_handshake(pc: RTCPeerConnection) -> None:
    """When ``pc`` becomes "connected", start every transceiver negotiated so far."""
    if not supported("handshake_media"):
        return
    connect = pc._RTCPeerConnection__connect  # type: ignore[attr-defined]

    def on_state() -> None:
        if pc.connectionState != "connected":
            return
        task = asyncio.ensure_future(connect())
        _pending.add(task)
        task.add_done_callback(_done)

    pc.on("connectionstatechange", on_state)


def _done(task: asyncio.Future[Any]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("starting media after the handshake failed: %r", task.exception())
