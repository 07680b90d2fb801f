"""Watch (and drop) a client peer's incoming RTP in clear header form, for media tests.

SRTP leaves the RTP header in clear, so sequence numbers, timestamps, SSRCs and
marker bits can be read as datagrams arrive, before aiortc decrypts them. Reaches
into aioice 0.13's protocols (``Connection._protocols``): test-only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection


@dataclass(frozen=True)
class RtpSeen:
    ssrc: int
    payload_type: int
    seq: int
    timestamp: int
    marker: bool
    size: int


def tap(pc: RTCPeerConnection, on_rtp: Callable[[RtpSeen], bool]) -> None:
    """Call ``on_rtp`` for each RTP datagram ``pc`` receives; True drops it.

    Call after ``setLocalDescription`` (candidates gathered) and before media flows.
    """
    transceiver = pc.getTransceivers()[0]
    ice = transceiver.receiver.transport.transport
    for protocol in ice._connection._protocols:
        original = protocol.datagram_received

        def received(data: bytes, addr: Any, original: Any = original) -> None:
            if len(data) >= 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223:
                seq, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
                seen = RtpSeen(ssrc, data[1] & 0x7F, seq, timestamp, bool(data[1] & 0x80),
                               len(data))
                if on_rtp(seen):
                    return
            original(data, addr)

        protocol.datagram_received = received
