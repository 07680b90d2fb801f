"""VP8 payloads cut once per rung: same layout as aiortc's, readable by its depacketiser."""

from __future__ import annotations

import os

from aiortc.codecs.vpx import Vp8Encoder, VpxPayloadDescriptor

from rtc_server.media.vp8 import MAX_PAYLOAD_BYTES, PICTURE_ID_OFFSET, fragment


def test_fragments_reassemble_the_frame_with_equal_sizes_but_the_last():
    frame = os.urandom(10_000)
    payloads = fragment(frame, picture_id=1234)

    descriptors = [VpxPayloadDescriptor.parse(p) for p in payloads]
    assert b"".join(data for _, data in descriptors) == frame
    assert [d.partition_start for d, _ in descriptors] == [1] + [0] * (len(payloads) - 1)
    assert {d.picture_id for d, _ in descriptors} == {1234}
    assert {len(p) for p in payloads[:-1]} == {MAX_PAYLOAD_BYTES}
    assert len(payloads[-1]) <= MAX_PAYLOAD_BYTES
    assert all(p[PICTURE_ID_OFFSET] & 0x80 for p in payloads)  # the 15-bit form, every time


def test_fragments_match_aiortcs_packetiser():
    frame = os.urandom(4_321)
    assert list(fragment(frame, picture_id=77)) == Vp8Encoder._packetize(frame, 77)


def test_an_empty_frame_has_no_payload():
    assert fragment(b"") == ()
