"""Content pipeline benchmark: server overhead and CPU per delivered token.

Streams lessons from the local composer through ContentService with a publish
callable that serialises each event once (``json.dumps``), as the server core
does before fanning out, with coalescing on and off.  It measures:

* overhead: for each token, provider arrival -> return of the publish call
  that delivered it (p50/p99, ms; includes any coalescing wait);
* CPU per delivered token: process CPU time of the run divided by tokens,
  with the provider-only cost (iterating the local composer alone) reported
  separately so the service's share is visible;
* a paced run (tokens arrive at --paced-tps, like a real model) where the
  coalescing wait shows up in the overhead.

Prints one JSON object.  Students over data channels are not included yet.

    .venv/bin/python scripts/bench_content.py --generations 200 --paced-tps 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rtc_server.base.protocol import EventType
from rtc_server.content import (
    ContentCache,
    ContentService,
    Destination,
    LocalImageProvider,
    LocalTextProvider,
    parse_content_request,
)
from rtc_server.content.prompts import build_text_request
from rtc_server.content.requests import parse_context
from rtc_server.content.stats import percentile

TOPICS = [
    "photosynthesis",
    "fractions",
    "volcanoes",
    "the water cycle",
    "magnetism",
    "the French revolution",
    "poetry and metaphor",
    "area and perimeter",
    "cells",
    "ecosystems",
    "linear equations",
    "electric circuits",
]
CONTEXT = {"subject": "General science", "grade": 7}


def request(i: int) -> dict[str, Any]:
    topic = TOPICS[i % len(TOPICS)]
    return {
        "kind": "lesson",
        "prompt": f"Explain {topic} with an example (variant {i})",
        "topic": topic,
        "difficulty": ["beginner", "intermediate", "advanced"][i % 3],
    }


class SerialisingPublish:
    """Serialises each event once, like the core before its fan-out."""

    def __init__(self) -> None:
        self.events = 0
        self.bytes = 0

    async def __call__(self, audience: Destination, type: EventType, payload: dict[str, Any]
                       ) -> None:
        data = json.dumps({"type": type.name, "audience": audience.as_dict(),
                           "payload": payload})
        self.events += 1
        self.bytes += len(data)


async def provider_only_cpu(generations: int) -> tuple[float, int]:
    provider = LocalTextProvider(tokens_per_s=0)
    ctx = parse_context(CONTEXT)
    tokens = 0
    cpu0 = time.process_time()
    for i in range(generations):
        text_request = build_text_request(parse_content_request(request(i)), ctx)
        async for delta in provider.stream(text_request):
            tokens += bool(delta.text)
    return time.process_time() - cpu0, tokens


async def run(
    name: str, generations: int, max_delay_ms: float, tps: float, concurrent: int
) -> dict[str, Any]:
    publish = SerialisingPublish()
    service = ContentService(
        LocalTextProvider(tokens_per_s=tps),
        LocalImageProvider(),
        ContentCache.build(memory_entries=8),
        publish,
        max_concurrent=max(concurrent, 2),
        max_per_session=1,
        chunk_max_delay_ms=max_delay_ms,
        cache_text=False,
    )
    overhead: list[float] = []
    tokens = chunks = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, generations, concurrent):
        batch = range(start, min(start + concurrent, generations))
        results = await asyncio.gather(
            *(
                service.generate(f"s{i}", request(i), Destination.session(f"s{i}"), context=CONTEXT)
                for i in batch
            )
        )
        for r in results:
            assert r.outcome == "done", r.error
            overhead += r.overhead_ms
            tokens += r.tokens
            chunks += r.chunks
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await service.close()
    return {
        "name": name,
        "coalescing_max_delay_ms": max_delay_ms,
        "provider_tokens_per_s": tps or "unlimited",
        "generations": generations,
        "concurrent_sessions": concurrent,
        "tokens": tokens,
        "chunks": chunks,
        "tokens_per_chunk": round(tokens / chunks, 2),
        "events_published": publish.events,
        "serialised_bytes": publish.bytes,
        "overhead_ms_p50": round(percentile(overhead, 50), 4),
        "overhead_ms_p99": round(percentile(overhead, 99), 4),
        "overhead_ms_max": round(max(overhead), 4),
        "cpu_s": round(cpu, 4),
        "wall_s": round(wall, 4),
        "cpu_us_per_token": round(cpu / tokens * 1e6, 2),
        "delivered_tokens_per_s": round(tokens / wall, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--max-delay-ms", type=float, default=40.0)
    parser.add_argument("--paced-tps", type=float, default=60.0)
    parser.add_argument("--paced-generations", type=int, default=8)
    args = parser.parse_args()

    base_cpu, base_tokens = await provider_only_cpu(args.generations)
    scenarios = [
        await run("full_speed_coalescing_on", args.generations, args.max_delay_ms, 0, 1),
        await run("full_speed_coalescing_off", args.generations, 0.0, 0, 1),
        await run(
            "paced_coalescing_on",
            args.paced_generations,
            args.max_delay_ms,
            args.paced_tps,
            args.paced_generations,
        ),
        await run(
            "paced_coalescing_off",
            args.paced_generations,
            0.0,
            args.paced_tps,
            args.paced_generations,
        ),
    ]
    provider_us = base_cpu / base_tokens * 1e6
    for s in scenarios:
        if s["provider_tokens_per_s"] == "unlimited":
            s["cpu_us_per_token_service_only"] = round(s["cpu_us_per_token"] - provider_us, 2)
    print(
        json.dumps(
            {
                "benchmark": "content",
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "provider_only_cpu_us_per_token": round(provider_us, 2),
                "scenarios": scenarios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
