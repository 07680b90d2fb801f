"""VP8 RTP payloads (RFC 7741), cut once per encoded frame and shared by every viewer.

A rung's encoded frame is split here, on the rung's encoder thread, into the
RTP payloads every viewer of the rung sends: a 4-byte payload descriptor
(X=1, I=1 with a 15-bit PictureID, S=1 on the first fragment) followed by the
frame's bytes. All fragments but the last have the same size, so one viewer's
packets of a frame can leave in one UDP GSO call (see
:mod:`rtc_server.media.gso`). The PictureID is written per viewer at
:data:`PICTURE_ID_OFFSET` (viewers keep their own continuous count across rung
and ladder changes); the value cut here is the rung's own.

Same layout and sizes as aiortc's ``Vp8Encoder._packetize`` (``PACKET_MAX`` =
1300 bytes per payload), so the plain aiortc path and the forwarder send the
same packets.
"""

from __future__ import annotations

__all__ = ["MAX_PAYLOAD_BYTES", "PICTURE_ID_OFFSET", "fragment"]

#: Largest RTP payload (descriptor included): aiortc's ``PACKET_MAX``.
MAX_PAYLOAD_BYTES = 1300
#: Where the 2-byte PictureID (M bit set) sits in every payload.
PICTURE_ID_OFFSET = 2
_DESCRIPTOR_BYTES = 4


def fragment(frame: bytes, picture_id: int = 0, *,
             max_payload_bytes: int = MAX_PAYLOAD_BYTES) -> tuple[bytes, ...]:
    """The RTP payloads of one encoded VP8 frame (empty frame: no payload)."""
    step = max_payload_bytes - _DESCRIPTOR_BYTES
    pid = 0x8000 | (picture_id & 0x7FFF)
    first = bytes((0x90, 0x80, pid >> 8, pid & 0xFF))
    rest = bytes((0x80, 0x80, pid >> 8, pid & 0xFF))
    return tuple((first if pos == 0 else rest) + frame[pos:pos + step]
                 for pos in range(0, len(frame), step))
