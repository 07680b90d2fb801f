"""Benchmark grounded lessons: indexing cost per page and time to first chunk.

    .venv/bin/python scripts/bench_material.py [--pages 20] [--runs 20]

Generates a ``--pages``-page PDF (tests/support/material_pdfs.py, fpdf2) and prints
one JSON object:

* ``indexing``: per page, pypdf extraction and building the index
  (passages, tokens, BM25, key terms), medians of ``--runs``; the same text
  given as Markdown is the baseline (no PDF parsing).
* ``ttft``: time from ``ContentService.generate`` to the first
  ``content.chunk`` publish, for a lesson *from the PDF* and for the same
  request *without material* in the same run, with

  - the local composer (``tokens_per_s=0``: composing cost, no pacing), and
  - the OpenAI provider against tests/support/fake_openai.py, which runs in its own
    process so that it does not compete with the service for the event loop
    (the fake answers at once, so the figure is our overhead plus loopback
    HTTP), with BM25 ranking and with embeddings ranking (fake
    ``/v1/embeddings``).

  ``cold`` is the first grounded request (the index and, for embeddings, the
  passage vectors are built then); ``warm`` the median of the later ones.
  The text cache is off, so every request really generates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from openai import AsyncOpenAI

from rtc_server.ai import OpenAISettings, OpenAITextProvider
from rtc_server.base.protocol import EventType
from rtc_server.content import (
    ContentCache,
    ContentService,
    Destination,
    LocalImageProvider,
    LocalTextProvider,
)
from rtc_server.material import (
    EmbeddingsRetriever,
    MaterialIndex,
    extract_material,
    material_from_text,
)
from tests.support.material_pdfs import long_pdf

ROOM = Destination.session("bench")
CONTEXT = {"subject": "Science", "grade": "Year 8"}
LESSON = {"kind": "lesson", "prompt": "Teach condensation and how clouds form",
          "topic": "Condensation"}
FAKE_SERVER = """
import sys
from aiohttp import web
sys.path.insert(0, {root!r})
from tests.support.fake_openai import FakeOpenAI
web.run_app(FakeOpenAI().app, host="127.0.0.1", port={port}, print=None)
"""


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def indexing(pdf: bytes, pages: int, runs: int) -> dict[str, Any]:
    extract_s, index_s = [], []
    for _ in range(runs):
        start = time.perf_counter()
        material = extract_material(pdf, filename="long.pdf")
        middle = time.perf_counter()
        index = MaterialIndex([material])
        extract_s.append(middle - start)
        index_s.append(time.perf_counter() - middle)
    markdown = material.text.replace("\f", "\n\n")
    base_extract, base_index = [], []
    for _ in range(runs):
        start = time.perf_counter()
        text_material = material_from_text(markdown, kind="markdown")
        middle = time.perf_counter()
        MaterialIndex([text_material])
        base_extract.append(middle - start)
        base_index.append(time.perf_counter() - middle)
    per_page = statistics.median(extract_s) / pages, statistics.median(index_s) / pages
    return {
        "pages": pages,
        "pdf_bytes": len(pdf),
        "text_chars": len(material.text),
        "passages": len(index.passages),
        "pdf_extract_ms_per_page": ms(per_page[0]),
        "index_ms_per_page": ms(per_page[1]),
        "total_ms_per_page": ms(sum(per_page)),
        "baseline_markdown_extract_ms_per_page": ms(statistics.median(base_extract) / pages),
        "baseline_markdown_index_ms_per_page": ms(statistics.median(base_index) / pages),
    }


class FirstChunk:
    """The publish callable: notes when the first chunk of a generation is published."""

    def __init__(self) -> None:
        self.first_at: float | None = None

    async def __call__(self, audience: Destination, type: EventType,
                       payload: dict[str, Any]) -> None:
        if type.name == "content.chunk" and self.first_at is None:
            self.first_at = time.perf_counter()


async def ttft_series(make_service, material, runs: int) -> dict[str, Any]:
    """TTFT of ``runs`` lessons with ``material`` (a fresh service: the first is cold)."""
    publish = FirstChunk()
    service: ContentService = make_service(publish)
    times = []
    for _ in range(runs):
        publish.first_at = None
        start = time.perf_counter()
        result = await service.generate("bench", LESSON, ROOM, context=CONTEXT,
                                        material=material)
        assert result.outcome == "done", result.error
        assert publish.first_at is not None
        times.append(publish.first_at - start)
    await service.close()
    return {"cold_ms": ms(times[0]), "warm_ms": ms(statistics.median(times[1:])),
            "warm_p90_ms": ms(sorted(times[1:])[int(0.9 * (len(times) - 1))])}


def local_service(publish: FirstChunk, **kwargs: Any) -> ContentService:
    return ContentService(LocalTextProvider(tokens_per_s=0), LocalImageProvider(),
                          ContentCache.build(memory_entries=4), publish, cache_text=False,
                          chunk_max_delay_ms=0, **kwargs)


def model_service(base_url: str, embeddings: bool):
    def make(publish: FirstChunk) -> ContentService:
        text = OpenAITextProvider(OpenAISettings(model="gpt-bench", api_key="sk-bench",
                                                 base_url=base_url, max_retries=0))
        retriever = None
        if embeddings:
            client = AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
            retriever = EmbeddingsRetriever(client, "fake-embed")
        return ContentService(text, LocalImageProvider(), ContentCache.build(memory_entries=4),
                              publish, cache_text=False, chunk_max_delay_ms=0,
                              retriever=retriever)
    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"fake OpenAI server did not start on port {port}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    pdf = long_pdf(args.pages)
    out: dict[str, Any] = {"indexing": indexing(pdf, args.pages, max(3, args.runs // 4))}
    material = [extract_material(pdf, filename="long.pdf", material_id="bench")]
    local = {
        "no_material": await ttft_series(local_service, [], args.runs),
        "from_pdf": await ttft_series(local_service, material, args.runs),
    }
    local["warm_ratio_pdf_to_none"] = round(
        local["from_pdf"]["warm_ms"] / local["no_material"]["warm_ms"], 2)
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FAKE_SERVER.format(root=ROOT, port=port))
    try:
        await wait_for_port(port)
        base_url = f"http://127.0.0.1:{port}/v1"
        model = {
            "no_material": await ttft_series(model_service(base_url, False), [], args.runs),
            "from_pdf_bm25": await ttft_series(model_service(base_url, False), material,
                                               args.runs),
            "from_pdf_embeddings": await ttft_series(model_service(base_url, True), material,
                                                     args.runs),
        }
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
    for key in ("from_pdf_bm25", "from_pdf_embeddings"):
        model[f"warm_ratio_{key}_to_none"] = round(
            model[key]["warm_ms"] / model["no_material"]["warm_ms"], 2)
    out["ttft"] = {"local_composer": local, "fake_model": model}
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
