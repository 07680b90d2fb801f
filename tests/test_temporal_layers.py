"""LayerGate: per-viewer dropping of VP8 enhancement layers, and the L1T3 pattern."""

from __future__ import annotations

import pytest

from adaptive.levels import AUDIO_ONLY, LOW, LOW_HALF, LOW_QUARTER
from adaptive.temporal_layers import L1T3_PATTERN, LayerGate, temporal_id


def frames(count: int, *, keyframe_every: int = 90) -> list[tuple[int, bool]]:
    """(layer id, keyframe) of ``count`` frames of an L1T3 rung, keyframe first."""
    out = []
    since = 0
    for i in range(count):
        key = i % keyframe_every == 0
        since = 0 if key else since + 1
        out.append((temporal_id(since), key))
    return out


def test_the_pattern_restarts_at_each_keyframe() -> None:
    assert [temporal_id(n) for n in range(8)] == [0, 2, 1, 2, 0, 2, 1, 2]
    assert temporal_id(0, layers=1) == 0
    with pytest.raises(ValueError):
        temporal_id(1, layers=2)
    assert L1T3_PATTERN == (0, 2, 1, 2)


@pytest.mark.parametrize(("level", "share"), [(LOW, 1.0), (LOW_HALF, 0.5), (LOW_QUARTER, 0.25)])
def test_each_floor_step_forwards_its_share_of_the_frames(level, share) -> None:
    gate = LayerGate()
    gate.set_level(level)
    sent = [f for f in frames(360) if gate.forward(*f)]
    assert len(sent) == pytest.approx(360 * share, abs=4)
    assert not gate.needs_keyframe


def test_audio_only_forwards_keyframes_alone_and_leaving_it_waits_for_one() -> None:
    gate = LayerGate()
    gate.set_level(AUDIO_ONLY)
    stream = frames(200)
    sent = [i for i, f in enumerate(stream[:100]) if gate.forward(*f)]
    assert sent == [0, 90]  # the still picture: one keyframe per period
    assert not gate.needs_keyframe  # audio-only does not ask for more keyframes

    gate.set_level(LOW)
    assert gate.needs_keyframe  # LAST is stale: nothing decodes before a keyframe
    later = [100 + i for i, f in enumerate(stream[100:]) if gate.forward(*f)]
    assert later[0] == 180 and not gate.needs_keyframe
    assert len(later) == 20


def test_going_up_from_a_quarter_waits_for_golden_before_forwarding_tl2() -> None:
    gate = LayerGate()
    gate.set_level(LOW_QUARTER)
    stream = frames(40)
    for f in stream[:6]:
        gate.forward(*f)  # frame 2 (TL1) was dropped: GOLDEN is stale
    gate.set_level(LOW)
    decisions = [(i, f[0], gate.forward(*f)) for i, f in enumerate(stream[6:12], start=6)]
    # 6: TL1 (refreshes GOLDEN, predicts from LAST), 7: TL2 after it, 8: TL0, ...
    assert decisions == [(6, 1, True), (7, 2, True), (8, 0, True), (9, 2, True),
                         (10, 1, True), (11, 2, True)]


def test_a_tl2_frame_before_any_tl1_after_going_up_is_dropped() -> None:
    gate = LayerGate()
    gate.set_level(LOW_QUARTER)
    stream = frames(20)
    for f in stream[:4]:
        gate.forward(*f)
    gate.set_level(LOW)
    # 4: TL0, 5: TL2 (GOLDEN is stale, from a dropped TL1) -> dropped, 6: TL1, 7: TL2.
    assert [gate.forward(*f) for f in stream[4:8]] == [True, False, True, True]


def test_a_rung_without_layers_passes_whole_and_stops_at_a_gap() -> None:
    gate = LayerGate()
    assert all(gate.forward(None, i == 0) for i in range(10))
    gate.set_level(AUDIO_ONLY)
    assert not gate.forward(None, False)
    gate.set_level(LOW)
    assert gate.needs_keyframe and not gate.forward(None, False)
    assert gate.forward(None, True) and gate.forward(None, False)


def test_libvpx_l1t3_base_layer_decodes_alone() -> None:
    """The real encoder: TL0 only, and TL0+TL1, decode without drift (the rung's setting)."""
    import fractions

    import av
    import numpy as np

    from rtc_server.media.encoder import VideoRungEncoder
    from rtc_server.media.encoding import VIDEO_RUNGS

    spec = next(r for r in VIDEO_RUNGS if r.name == "low")
    assert spec.temporal_layers == 3
    encoder = VideoRungEncoder(spec)
    yy, xx = np.mgrid[0:480, 0:854]

    def picture(i: int) -> np.ndarray:
        return ((np.sin((xx + i * 5) / 17.0) + np.cos((yy + i * 2) / 23.0)) * 60
                + 128).astype(np.uint8)

    packets = []
    for i in range(64):
        frame = av.VideoFrame.from_ndarray(picture(i), format="gray").reformat(format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        packets += [(i, p) for p in encoder.encode(frame, force_keyframe=i == 30)]
    assert [p.temporal_id for _, p in packets[:5]] == [0, 2, 1, 2, 0]
    assert packets[30][1].is_keyframe and packets[31][1].temporal_id == 2

    for level in (LOW_QUARTER, LOW_HALF, LOW):
        gate = LayerGate()
        gate.set_level(level)
        decoder = av.CodecContext.create("vp8", "r")
        errors = []
        for i, p in packets:
            if gate.forward(p.temporal_id, p.is_keyframe):
                for out in decoder.decode(av.Packet(p.data)):
                    shown = out.to_ndarray(format="gray").astype(float)
                    errors.append(float(np.abs(shown - picture(i)).mean()))
        assert len(errors) == pytest.approx(64 * level.frame_rate_fraction, abs=3)
        assert max(errors) < 10, (level.name, max(errors))  # a broken reference is ~90
