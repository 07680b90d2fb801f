"""The relay's frame format and key names (pure)."""

from __future__ import annotations

from rtc_server.media.encoder import AUDIO_TIME_BASE, VIDEO_TIME_BASE, EncodedPacket
from rtc_server.media.relay_wire import HEADER, RelayKeys, pack_frame, unpack_frame


def test_a_frame_survives_the_wire_byte_for_byte():
    packet = EncodedPacket(b"\x9d\x01\x2a" + bytes(range(256)), 123_456_789, VIDEO_TIME_BASE,
                           is_keyframe=True, width=1280, height=720)
    data = pack_frame(7, 42, packet, 1_700_000_000.25)
    assert len(data) == HEADER.size + len(packet.data)
    epoch, seq, got, sent_s = unpack_frame(data, "video")
    assert (epoch, seq, sent_s) == (7, 42, 1_700_000_000.25)
    assert (got.data, got.pts, got.time_base, got.is_keyframe, got.width, got.height) == (
        packet.data, packet.pts, VIDEO_TIME_BASE, True, 1280, 720)


def test_an_audio_frame_gets_the_audio_clock():
    packet = EncodedPacket(b"opus", 960, AUDIO_TIME_BASE, is_keyframe=True)
    _, _, got, _ = unpack_frame(pack_frame(1, 1, packet, 0.0), "audio")
    assert got.time_base == AUDIO_TIME_BASE and not got.width


def test_keys_of_a_session_share_its_hash_tag_and_prefix():
    keys = RelayKeys("crtc:")
    names = [keys.source("s1", "video"), keys.news("s1"), keys.demand("s1", "L"),
             keys.control("s1", "L"), keys.frames("s1", "L", "low"), keys.nodes("s1"),
             keys.resource("whep", "s1", "r")]
    assert all(name.startswith("crtc:relay:{s1}:") for name in names)
    assert len(set(names)) == len(names)
    assert keys.node_channel("w1:12") == "crtc:relay:node:w1:12"
