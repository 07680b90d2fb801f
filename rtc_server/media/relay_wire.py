"""The media relay's names and wire format (pure): Redis keys and channels, frame messages.

Keys and channels (``P`` is the key prefix, ``S`` the session, ``L`` the origin's
ladder id, ``R`` a rung name; the ``{S}`` hash tag keeps a session in one cluster slot)::

    P relay:{S}:src:<kind>    the origin's announcement of the ladder viewers see, JSON
                              {node, ladder, kind, role, since, width, height}, expiring
                              ANNOUNCE_TTL_MS after the origin's last refresh
    P relay:{S}:news          channel: an announcement changed (edges read it again)
    P relay:{S}:L:demand      hash "<node>|R" -> expiry (ms since the epoch): edges that
                              have viewers on rung R, refreshed every second
    P relay:{S}:L:ctl         channel to the origin: b"want" (demand changed, read it
                              again) and b"key:R" (a viewer needs a keyframe)
    P relay:{S}:L:R           channel: rung R's encoded frames, one message per frame
    P relay:{S}:nodes         hash node -> JSON {viewers, publisher, until}: what each
                              process serves (for the teacher's page and the media API)
    P relay:{S}:res:<kind>:<id>  the process holding a WHIP/WHEP resource (a DELETE that
                              reaches another process is forwarded on its node channel)
    P relay:node:<node>       channel to one process: b"delete|<kind>|<session>|<id>"

A frame message is :data:`HEADER` (stream epoch, sequence number, pts, send time,
keyframe flag, temporal layer id (255: none), width, height) followed by the encoded
frame. The edge cuts a VP8 frame into RTP payloads once per rung (:func:`.vp8.fragment`),
as the origin's encoder thread does.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from . import vp8
from .encoder import AUDIO_TIME_BASE, VIDEO_TIME_BASE, EncodedPacket

__all__ = ["ANNOUNCE_LUA", "HEADER", "WITHDRAW_LUA", "RelayKeys", "now_ms", "pack_frame",
           "text", "unpack_frame"]

#: epoch (u32), seq (u32), pts (i64), sent at (s since the epoch, f64), keyframe (u8),
#: temporal layer id (u8, 255: none), width, height (u16): 30 bytes before each frame.
HEADER = struct.Struct(">IIqdBBHH")
NO_LAYER = 255

#: Keep the newest announcement: an older publisher elsewhere does not overwrite it.
ANNOUNCE_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.ladder ~= ARGV[2] and tonumber(c.since) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1
"""
#: Delete the announcement only if it is still this ladder's.
WITHDRAW_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).ladder == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


@dataclass(frozen=True)
class RelayKeys:
    """Every key and channel name of the relay under one prefix."""

    prefix: str

    def base(self, session_id: str) -> str:
        return f"{self.prefix}relay:{{{session_id}}}"

    def source(self, session_id: str, kind: str) -> str:
        return f"{self.base(session_id)}:src:{kind}"

    def news(self, session_id: str) -> str:
        return f"{self.base(session_id)}:news"

    def ladder(self, session_id: str, ladder_id: str) -> str:
        return f"{self.base(session_id)}:{ladder_id}"

    def demand(self, session_id: str, ladder_id: str) -> str:
        return f"{self.ladder(session_id, ladder_id)}:demand"

    def control(self, session_id: str, ladder_id: str) -> str:
        return f"{self.ladder(session_id, ladder_id)}:ctl"

    def frames(self, session_id: str, ladder_id: str, rung: str) -> str:
        return f"{self.ladder(session_id, ladder_id)}:{rung}"

    def nodes(self, session_id: str) -> str:
        return f"{self.base(session_id)}:nodes"

    def resource(self, kind: str, session_id: str, resource_id: str) -> str:
        return f"{self.base(session_id)}:res:{kind}:{resource_id}"

    def node_channel(self, node: str) -> str:
        return f"{self.prefix}relay:node:{node}"


def pack_frame(epoch: int, seq: int, packet: EncodedPacket, sent_s: float) -> bytes:
    layer = NO_LAYER if packet.temporal_id is None else packet.temporal_id
    head = HEADER.pack(epoch, seq, packet.pts, sent_s, 1 if packet.is_keyframe else 0,
                       layer, packet.width, packet.height)
    return head + packet.data


def unpack_frame(data: bytes, kind: str) -> tuple[int, int, EncodedPacket, float]:
    """``(epoch, seq, packet, sent_s)`` of a frame message of a ``kind`` rung."""
    epoch, seq, pts, sent_s, key, layer, width, height = HEADER.unpack_from(data)
    frame = data[HEADER.size:]
    if kind == "video":
        packet = EncodedPacket(frame, pts, VIDEO_TIME_BASE, is_keyframe=bool(key),
                               width=width, height=height, payloads=vp8.fragment(frame, 0),
                               temporal_id=None if layer == NO_LAYER else layer)
    else:
        packet = EncodedPacket(frame, pts, AUDIO_TIME_BASE, is_keyframe=bool(key))
    return epoch, seq, packet, sent_s


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def now_ms() -> int:
    return int(time.time() * 1000)
