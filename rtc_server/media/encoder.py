"""The one encoder behind a rung, and the packets it shares with subscribers.

Encoders are blocking and run on the rung's own executor thread (libvpx and
libopus release the GIL while they work, so rungs encode in parallel with the
event loop and with each other).

Workaround (aiortc 1.16, ``aiortc.codecs.vpx.MAX_BITRATE`` = 1.5 Mbps and
``OpusEncoder``'s fixed 96 kbps): aiortc's own encoders clamp VP8 at 1.5 Mbps
and offer no per-sender Opus bitrate, which rules out a 4.5 Mbps 1080p rung and
the 128/96/64 kbps audio rungs. We therefore never let aiortc encode: the rung
drives libvpx/libopus through PyAV with its own settings and hands aiortc
finished packets, which ``RTCRtpSender`` only packetises (``encoder.pack``),
never re-encodes or clamps. This is the only place those limits are side-
stepped; it can go if aiortc grows configurable encoder bitrates, though the
encode-once design would still keep its own encoders.
"""

from __future__ import annotations

import fractions
import time
from typing import Any, Protocol

import av
from av.audio.resampler import AudioResampler
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter

from adaptive.temporal_layers import temporal_id

from . import vp8
from .encoding import (
    OPUS_FRAME_SAMPLES,
    OPUS_SAMPLE_RATE_HZ,
    AudioRungSpec,
    VideoRungSpec,
    scaled_size,
    temporal_layer_options,
)

__all__ = ["AudioRungEncoder", "EncodedPacket", "RungEncoder", "VideoRungEncoder"]

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, OPUS_SAMPLE_RATE_HZ)


class EncodedPacket:
    """An encoded frame shared by every subscriber of a rung.

    Quacks like ``av.Packet`` where ``RTCRtpSender`` looks (``bytes()``,
    ``pts``, ``time_base``); ``with_pts`` makes a per-subscriber view that
    shares ``data`` and ``payloads`` instead of copying them. ``payloads`` are
    the frame's RTP payloads, cut once per rung (VP8: :func:`.vp8.fragment`;
    Opus: the packet itself), which the forwarding sender sends as they are.
    """

    __slots__ = ("data", "height", "is_keyframe", "payloads", "pts", "temporal_id",
                 "time_base", "width")

    def __init__(
        self,
        data: bytes,
        pts: int,
        time_base: fractions.Fraction,
        *,
        is_keyframe: bool,
        width: int = 0,
        height: int = 0,
        payloads: tuple[bytes, ...] | None = None,
        temporal_id: int | None = None,
    ) -> None:
        self.data = data
        self.payloads = payloads if payloads is not None else (data,)
        self.pts = pts
        self.time_base = time_base
        self.is_keyframe = is_keyframe
        self.width = width
        self.height = height
        #: VP8 temporal layer of the frame (``None``: a rung encoded without layers).
        self.temporal_id = temporal_id

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    def with_pts(self, pts: int) -> EncodedPacket:
        return EncodedPacket(
            self.data,
            pts,
            self.time_base,
            is_keyframe=self.is_keyframe,
            width=self.width,
            height=self.height,
            payloads=self.payloads,
            temporal_id=self.temporal_id,
        )

    def __repr__(self) -> str:
        kind = "key" if self.is_keyframe else f"delta TL{self.temporal_id}"
        return f"EncodedPacket({kind}, {len(self.data)} B, pts={self.pts})"


class RungEncoder(Protocol):
    """What a rung needs from its encoder (called on the rung's thread)."""

    encode_time_s: float

    def encode(self, frame: Any, force_keyframe: bool) -> list[EncodedPacket]: ...

    def close(self) -> None: ...


class VideoRungEncoder:
    """libvpx VP8 in realtime CBR mode at the rung's size and bitrate."""

    def __init__(self, spec: VideoRungSpec) -> None:
        self.spec = spec
        self.encode_time_s = 0.0
        self._codec: av.VideoCodecContext | None = None
        # Our own scaler: VideoFrame.reformat() would use a scaler cached on
        # the shared source frame, which the rungs' threads must not share.
        self._scaler = VideoReformatter()
        self._picture_id = 0
        #: Frames since the last keyframe: libvpx restarts its layer pattern at each.
        self._since_keyframe = 0

    def _open(self, width: int, height: int) -> av.VideoCodecContext:
        spec = self.spec
        codec = av.CodecContext.create("libvpx", "w")
        assert isinstance(codec, av.VideoCodecContext)
        codec.width = width
        codec.height = height
        codec.pix_fmt = "yuv420p"
        codec.time_base = VIDEO_TIME_BASE
        codec.framerate = fractions.Fraction(spec.fps).limit_denominator(1001)
        codec.bit_rate = spec.bitrate_bps
        codec.gop_size = spec.keyframe_interval_frames
        codec.qmin = 2
        codec.qmax = 56
        codec.thread_count = spec.threads
        codec.options = {
            # Same CBR recipe as aiortc's Vp8Encoder (minrate = maxrate = bit_rate,
            # a 1 s buffer), with our own speed and bitrate.
            "bufsize": str(spec.bitrate_bps),
            "minrate": str(spec.bitrate_bps),
            "maxrate": str(spec.bitrate_bps),
            "cpu-used": str(spec.cpu_used),
            "deadline": "realtime",
            "lag-in-frames": "0",
            "auto-alt-ref": "0",
            "error-resilient": "1",
            "noise-sensitivity": "0",
            "overshoot-pct": "15",
            "undershoot-pct": "100",
            "static-thresh": "1",
            "partitions": "0",
            **temporal_layer_options(spec),
        }
        codec.open()
        self._since_keyframe = 0
        return codec

    def encode(self, frame: av.VideoFrame, force_keyframe: bool) -> list[EncodedPacket]:
        """Scale ``frame`` to the rung and encode it (blocking)."""
        started = time.perf_counter()
        width, height = scaled_size(frame.width, frame.height, self.spec.height_px)
        if self._codec is None or (self._codec.width, self._codec.height) != (width, height):
            self._codec = self._open(width, height)
        scaled = self._scaler.reformat(frame, width=width, height=height, format="yuv420p")
        if scaled is frame:
            # The source frame is shared with the other rungs' threads: never
            # mutate it (pts, pict_type), work on a copy.
            scaled = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        # A decoded publisher keyframe arrives with pict_type I, which libvpx
        # would obey; only our own keyframe policy decides.
        scaled.pict_type = PictureType.I if force_keyframe else PictureType.NONE
        pts = _rescale(frame.pts or 0, frame.time_base, VIDEO_TIME_BASE)
        scaled.pts = pts
        scaled.time_base = VIDEO_TIME_BASE
        layered = self.spec.temporal_layers > 1
        packets = []
        for p in self._codec.encode(scaled):
            data = bytes(p)
            key = bool(p.is_keyframe)
            self._since_keyframe = 0 if key else self._since_keyframe + 1
            # Packetised here, once for every viewer of the rung, off the event loop.
            payloads = vp8.fragment(data, self._picture_id)
            self._picture_id = (self._picture_id + 1) & 0x7FFF
            packets.append(EncodedPacket(
                data, pts, VIDEO_TIME_BASE, is_keyframe=key, width=width, height=height,
                payloads=payloads,
                temporal_id=temporal_id(self._since_keyframe) if layered else None))
        self.encode_time_s += time.perf_counter() - started
        return packets

    def close(self) -> None:
        self._codec = None


class AudioRungEncoder:
    """libopus at the rung's bitrate, 20 ms packets."""

    def __init__(self, spec: AudioRungSpec) -> None:
        self.spec = spec
        self.encode_time_s = 0.0
        layout = "stereo" if spec.channels == 2 else "mono"
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, av.AudioCodecContext)
        codec.bit_rate = spec.bitrate_bps
        codec.format = "s16"
        codec.layout = layout
        codec.sample_rate = OPUS_SAMPLE_RATE_HZ
        codec.time_base = AUDIO_TIME_BASE
        codec.options = {"application": "voip"}
        self._codec = codec
        self._resampler = AudioResampler(
            format="s16", layout=layout, rate=OPUS_SAMPLE_RATE_HZ, frame_size=OPUS_FRAME_SAMPLES
        )
        self._pts_origin: int | None = None
        self._next_pts = 0

    def encode(self, frame: av.AudioFrame, force_keyframe: bool) -> list[EncodedPacket]:
        """Encode one source frame (blocking); every Opus packet is a 'keyframe'."""
        started = time.perf_counter()
        if self._pts_origin is None:
            self._pts_origin = _rescale(frame.pts or 0, frame.time_base, AUDIO_TIME_BASE)
            self._next_pts = self._pts_origin
        packets = []
        for chunk in self._resampler.resample(frame):
            for p in self._codec.encode(chunk):
                packets.append(
                    EncodedPacket(bytes(p), self._next_pts, AUDIO_TIME_BASE, is_keyframe=True)
                )
                self._next_pts += OPUS_FRAME_SAMPLES
        self.encode_time_s += time.perf_counter() - started
        return packets

    def close(self) -> None:
        pass


def _rescale(pts: int, src: fractions.Fraction | None, dst: fractions.Fraction) -> int:
    if src is None:
        return pts
    return round(pts * src / dst)
