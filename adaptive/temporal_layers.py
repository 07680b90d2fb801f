"""Per-viewer temporal-layer dropping: which frames of a layered rung a viewer gets.

The low rung is encoded once with three VP8 temporal layers (libvpx's L1T3
pattern, ffmpeg's ``ts_layering_mode=3``): after each keyframe the frames
go TL0, TL2, TL1, TL2, TL0, ... (:data:`L1T3_PATTERN`; libvpx restarts the
pattern at every keyframe, forced or not). The references are

* TL0 predicts from LAST and updates LAST (a chain of its own: every TL0
  frame after a keyframe needs every earlier one);
* TL1 predicts from LAST and updates GOLDEN;
* TL2 predicts from LAST (the first of the period) or GOLDEN (the second)
  and updates nothing.

So dropping TL2 halves the frame rate and dropping TL1 too quarters it,
with no other encode and nothing broken for the decoder. Going back up is
where care is needed: a TL2 frame needs the GOLDEN that only TL1 frames
refresh, and after a spell of keyframes only (the audio-only step) LAST
is stale until the next keyframe. :class:`LayerGate` tracks both and
drops what the viewer could not decode, saying when a keyframe is needed
(:attr:`LayerGate.needs_keyframe`).

The media path asks :meth:`LayerGate.forward` once per frame, in order,
with the frame's layer id (``None`` for a rung encoded without layers) and
whether it is a keyframe; a dropped frame is never packetised, so the
viewer's RTP sequence numbers and VP8 picture ids stay contiguous.
"""

from __future__ import annotations

from .levels import TEMPORAL_LAYERS, QualityLevel

__all__ = ["L1T3_PATTERN", "LayerGate", "temporal_id"]

#: Layer id of each frame of the 4-frame period that starts at a keyframe.
L1T3_PATTERN: tuple[int, ...] = (0, 2, 1, 2)


def temporal_id(frames_since_keyframe: int, layers: int = TEMPORAL_LAYERS) -> int:
    """Layer id of the frame ``frames_since_keyframe`` after the last keyframe (0 = it)."""
    if layers <= 1:
        return 0
    if layers != len(set(L1T3_PATTERN)):
        raise ValueError(f"only the three-layer L1T3 pattern is supported, not {layers}")
    return L1T3_PATTERN[frames_since_keyframe % len(L1T3_PATTERN)]


class LayerGate:
    """Which frames of one viewer's video to forward, for its current step."""

    def __init__(self, layers: int = TEMPORAL_LAYERS, *, keyframes_only: bool = False) -> None:
        self.layers = layers
        self.keyframes_only = keyframes_only
        #: The viewer holds the encoder's current LAST (every TL0 since a keyframe).
        self._last_fresh = True
        #: ... and its current GOLDEN (the latest TL1 or keyframe).
        self._golden_fresh = True
        self.forwarded = 0
        self.dropped = 0

    def set_level(self, level: QualityLevel) -> None:
        """Forward what ``level`` asks for (``temporal_layers``, ``audio_only``)."""
        self.set(level.temporal_layers, keyframes_only=level.audio_only)

    def set(self, layers: int, *, keyframes_only: bool = False) -> None:
        self.layers = max(1, layers)
        self.keyframes_only = keyframes_only

    @property
    def needs_keyframe(self) -> bool:
        """Nothing decodable arrives until a keyframe: the caller should ask for one."""
        return not self.keyframes_only and not self._last_fresh

    def reset(self) -> None:
        """A new stream (another rung or ladder) that starts at a keyframe."""
        self._last_fresh = self._golden_fresh = True

    def forward(self, temporal_id: int | None, is_keyframe: bool) -> bool:
        """Forward this frame to the viewer? Call once per frame, in order."""
        ok = self._decide(temporal_id, is_keyframe)
        if ok:
            self.forwarded += 1
        else:
            self.dropped += 1
        return ok

    def _decide(self, temporal_id: int | None, is_keyframe: bool) -> bool:
        if is_keyframe:
            self._last_fresh = self._golden_fresh = True
            return True
        tid = 0 if temporal_id is None else temporal_id
        if temporal_id is None:
            # A rung without layers: every frame predicts from the previous one.
            if self.keyframes_only or not self._last_fresh:
                self._last_fresh = False
                return False
            return True
        if self.keyframes_only or tid >= self.layers:
            # What is dropped here leaves the references it would have refreshed stale.
            if tid == 0:
                self._last_fresh = False
            elif tid == 1:
                self._golden_fresh = False
            return False
        if tid == 0:
            return self._last_fresh
        if tid == 1:
            self._golden_fresh = self._last_fresh
            return self._last_fresh
        return self._last_fresh and self._golden_fresh
