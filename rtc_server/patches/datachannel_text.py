"""Workaround (aiortc 1.16, ``RTCSctpTransport._data_channel_receive``): a data-channel
message sent as text (PPID 51, "WebRTC String") whose bytes are not UTF-8 makes aiortc's
``data.decode("utf8")`` raise inside the DTLS receive loop. The loop logs the traceback
and ends: the peer's whole transport (every channel, and its media) dies, and the
server log holds a traceback for what is a client's malformed input. The same holds
for a channel-open (DCEP) message whose label or protocol is not UTF-8.

:func:`apply` wraps the method: such a message is delivered as binary instead (PPID 53),
so the server's one boundary (:mod:`rtc_server.base.json_input`) refuses it like any
other bytes that are not JSON — ``malformed_message``, with the connection up — and such
a channel-open is ignored with one INFO line. Valid messages take the unchanged path
(the wrapper adds a ``try`` and nothing else).

*Can go when* aiortc decodes incoming text defensively (or drops undecodable messages).
"""

from __future__ import annotations

import logging
from typing import Any

from aiortc import rtcsctptransport

from .versions import supported

__all__ = ["apply"]

logger = logging.getLogger(__name__)

_MARK = "__classroom_text_guard__"


def apply() -> None:
    """Install the wrapper (idempotent; only on the tested aiortc/aioice versions)."""
    transport = rtcsctptransport.RTCSctpTransport
    if getattr(transport._data_channel_receive, _MARK, False):
        return
    if not supported("datachannel_text"):
        return
    original = transport._data_channel_receive

    async def _data_channel_receive(self: Any, stream_id: int, pp_id: int, data: bytes) -> None:
        try:
            await original(self, stream_id, pp_id, data)
        except UnicodeDecodeError:
            if pp_id == rtcsctptransport.WEBRTC_STRING:
                # Decoding failed before anything was emitted: deliver the bytes instead.
                await original(self, stream_id, rtcsctptransport.WEBRTC_BINARY, data)
            else:
                logger.info("ignored a data-channel open whose label is not UTF-8 (stream %d)",
                            stream_id)

    setattr(_data_channel_receive, _MARK, True)
    transport._data_channel_receive = _data_channel_receive  # type: ignore[method-assign]
