"""Measure VP8 encode speed and quality per rung size on the synthetic source.

Compares PyAV/libvpx with several ``cpu-used``/``threads`` settings (the
settings the ladder's ``VideoRungEncoder`` uses otherwise) with aiortc's own
``Vp8Encoder``. Prints one JSON document: per size and config, encode fps on
one thread of this process, delivered bitrate and luma PSNR.

    .venv/bin/python scripts/bench_encoders.py [--frames 60] [--fps 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import av
import numpy as np
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.media.encoder import VideoRungEncoder
from rtc_server.media.encoding import VIDEO_RUNGS, parse_vp8_keyframe_size
from rtc_server.media.synthetic import SyntheticVideoTrack

SIZES = {1080: (1920, 1080), 720: (1280, 720), 480: (854, 480)}


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    mse = float(np.mean((reference.astype(np.float32) - decoded.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def measure(
    name: str,
    encode: Callable[[av.VideoFrame, bool], bytes],
    frames: list[av.VideoFrame],
    fps: float,
) -> dict:
    decoder = av.CodecContext.create("libvpx", "r")
    total_bytes = 0
    scores = []
    started = time.process_time()
    wall = time.perf_counter()
    payloads = [encode(f, i == 0) for i, f in enumerate(frames)]
    cpu = time.process_time() - started
    wall = time.perf_counter() - wall
    for ref, data in zip(frames, payloads, strict=True):
        total_bytes += len(data)
        for out in decoder.decode(av.Packet(data)):
            scores.append(psnr(ref.to_ndarray(format="gray"), out.to_ndarray(format="gray")))
    size = parse_vp8_keyframe_size(payloads[0])
    return {
        "config": name,
        "fps_wall": round(len(frames) / wall, 1),
        "fps_per_cpu_second": round(len(frames) / cpu, 1),
        "kbps": round(total_bytes * 8 * fps / len(frames) / 1000),
        "psnr_y_db": round(sum(scores) / max(1, len(scores)), 2),
        "keyframe_size": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()

    by_height = {r.height_px: r for r in VIDEO_RUNGS}
    results: dict[str, list[dict]] = {}
    for height, (width, _) in SIZES.items():
        source = SyntheticVideoTrack(width, height, args.fps)
        frames = [source.render(i, 1_700_000_000_000 + i) for i in range(args.frames)]
        rung = by_height[height]
        rows = []
        for cpu_used in (4, 8, 12, 16):
            for threads in (1, 2):
                spec = replace(rung, cpu_used=cpu_used, threads=threads)
                enc = VideoRungEncoder(spec)

                def run(frame: av.VideoFrame, key: bool, enc: VideoRungEncoder = enc) -> bytes:
                    return b"".join(p.data for p in enc.encode(frame, key))

                rows.append(
                    measure(f"pyav cpu-used={cpu_used} threads={threads}", run, frames, args.fps)
                )
        aiortc_enc = Vp8Encoder()
        aiortc_enc.target_bitrate = rung.bitrate_bps  # clamped to 1.5 Mbps by aiortc

        def run_aiortc(frame: av.VideoFrame, key: bool, enc: Vp8Encoder = aiortc_enc) -> bytes:
            payloads, _ = enc.encode(frame, key)
            # Strip the 1-4 byte VP8 payload descriptors to get the raw frame back.
            return b"".join(vp8_depayload(p) for p in payloads)

        rows.append(
            measure("aiortc Vp8Encoder (cpu-used=-6, clamp 1.5 Mbps)", run_aiortc, frames, args.fps)
        )
        scale_src = SyntheticVideoTrack(1920, 1080, args.fps).render(0, 0)
        t0 = time.perf_counter()
        for _ in range(30):
            scale_src.reformat(width=width, height=height, format="yuv420p")
        scale_ms = (time.perf_counter() - t0) / 30 * 1000
        results[f"{height}p"] = rows
        results[f"{height}p_scale_from_1080p_ms"] = [{"ms": round(scale_ms, 2)}]
        print(f"done {height}p", file=sys.stderr)
    print(json.dumps({"cpus": os.cpu_count(), "frames": args.frames, "results": results}, indent=1))


if __name__ == "__main__":
    main()
