"""Workaround on aiortc's ``RTCRtpReceiver``: receive encoded frames without decoding them.

Checked against aiortc 1.16: the receiver always starts a decoder thread fed by
its private ``__decoder_queue`` and offers no way to get encoded frames (load
bots and tests count frames; decoding hundreds of streams would make the bot the
bottleneck). :func:`divert_encoded_frames` swaps that queue, before the receiver
starts, for one that hands each ``(codec, JitterFrame)`` to a callback on the
event loop and passes only the stop sentinel on (so the idle decoder thread still
exits on stop). *Can go when* aiortc exposes encoded frames (an encoded-transform
style hook).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .versions import supported

__all__ = ["divert_encoded_frames"]

FrameCallback = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class _DivertingQueue(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue (see module docstring)."""

    def __init__(self, on_frame: FrameCallback) -> None:
        super().__init__()
        self._on_frame = on_frame

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None, block, timeout)
        else:
            codec, frame = item
            self._on_frame(codec, frame)


def divert_encoded_frames(receiver: RTCRtpReceiver, on_frame: FrameCallback) -> None:
    """Make ``receiver`` call ``on_frame`` instead of decoding; call before it starts."""
    if getattr(receiver, "_RTCRtpReceiver__started", True):
        raise RuntimeError("cannot divert frames of a receiver that already started")
    if not supported("rtp_receiver.encoded_frames"):
        raise RuntimeError("counting receivers need the aiortc version this patch was "
                           "checked against")
    receiver._RTCRtpReceiver__decoder_queue = _DivertingQueue(on_frame)  # type: ignore[attr-defined]
