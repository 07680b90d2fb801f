"""The synthetic sources and their burned-in counter/timestamp."""

from __future__ import annotations

import time
from dataclasses import replace

import av
import numpy as np

from rtc_server.media.encoder import VideoRungEncoder
from rtc_server.media.encoding import VIDEO_RUNGS
from rtc_server.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack, read_burned_in

LOW = next(r for r in VIDEO_RUNGS if r.name == "low")
T0_MS = 1_764_000_000_000


def encode_decode(source: SyntheticVideoTrack, frames: int) -> list[av.VideoFrame]:
    encoder = VideoRungEncoder(replace(LOW, fps=source.fps))
    decoder = av.CodecContext.create("libvpx", "r")
    decoded: list[av.VideoFrame] = []
    for i in range(frames):
        for packet in encoder.encode(source.render(i, T0_MS + 40 * i), i == 0):
            decoded += decoder.decode(av.Packet(packet.data))
    return decoded


def test_burned_in_survives_1080p_to_480p_encode_decode():
    decoded = encode_decode(SyntheticVideoTrack(1920, 1080, 30), 30)

    assert len(decoded) == 30
    assert (decoded[0].width, decoded[0].height) == (852, 480)
    readings = [read_burned_in(f) for f in decoded]
    assert readings == [(i, T0_MS + 40 * i) for i in range(30)]


def test_burned_in_survives_480p_encode_decode():
    decoded = encode_decode(SyntheticVideoTrack(854, 480, 15), 20)

    assert [read_burned_in(f) for f in decoded] == [(i, T0_MS + 40 * i) for i in range(20)]


def test_read_burned_in_rejects_frame_without_code():
    grey = av.VideoFrame.from_ndarray(np.full((720, 640), 128, np.uint8), format="gray")
    noise = av.VideoFrame.from_ndarray(
        np.random.default_rng(3).integers(0, 256, (480, 640), np.uint8), format="gray"
    )

    assert read_burned_in(grey) is None
    assert read_burned_in(noise) is None


async def test_video_track_is_paced_and_stamped_with_wall_clock():
    track = SyntheticVideoTrack(320, 240, 20, noise=False)
    started_ms = time.time() * 1000
    frames = [await track.recv() for _ in range(6)]
    elapsed_s = time.time() - started_ms / 1000

    assert 0.2 <= elapsed_s < 0.6  # 5 intervals of 50 ms
    readings = [read_burned_in(f) for f in frames]
    assert [r[0] for r in readings if r] == list(range(6))
    assert all(r and abs(r[1] - started_ms) < 1000 for r in readings)
    assert [f.pts for f in frames] == [i * 4500 for i in range(6)]


async def test_audio_track_is_48khz_20ms_with_continuous_pts():
    track = SyntheticAudioTrack(freq_hz=440)
    frames = [await track.recv() for _ in range(3)]

    assert [(f.sample_rate, f.samples, f.pts) for f in frames] == [
        (48000, 960, 0),
        (48000, 960, 960),
        (48000, 960, 1920),
    ]
    samples = frames[0].to_ndarray()
    assert 0.25 * 32767 < np.abs(samples).max() <= 0.31 * 32767
