"""Ranking passages by embeddings from an OpenAI-compatible ``/v1/embeddings``.

Used when the endpoint has an embeddings model.  Each material's passage
vectors are computed once (batched) and kept in a small LRU keyed by the
index digest, so a request only embeds its query.  Any failure (no such
model, a timeout, a malformed reply) falls back to BM25 for that request, and
for the next ``retry_after_s`` without asking again: an endpoint without the
model (or down) would otherwise cost every request a failed call, or the
timeout.  The first failure of a run is logged as a warning (one line, no
traceback), the others at debug level, and recovery at info level.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import openai
from openai import AsyncOpenAI

from .grounding import Bm25Retriever, Grounding, Retriever, opening
from .index import Hit, MaterialIndex

__all__ = ["EmbeddingsRetriever"]

logger = logging.getLogger(__name__)

#: Inputs per embeddings call.
BATCH = 64
#: Characters of a passage sent to be embedded (models cap their input).
MAX_INPUT_CHARS = 2000
#: Below this cosine a passage is not taken to match the query at all.
MIN_COSINE = 0.05


class EmbeddingsRetriever:
    """Cosine similarity of query and passage embeddings; BM25 when that fails."""

    def __init__(
        self,
        client: AsyncOpenAI,
        model: str,
        *,
        fallback: Retriever | None = None,
        timeout_s: float = 10.0,
        cache_size: int = 32,
        retry_after_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.model = model
        self.fallback: Retriever = fallback or Bm25Retriever()
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self.failures = 0
        self.retry_after_s = retry_after_s
        self._clock = clock
        #: While failing: when embeddings are next tried (clock seconds), else None.
        self._retry_at: float | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, asyncio.Task[np.ndarray]] = {}

    @property
    def name(self) -> str:
        return f"embeddings:{self.model}"

    async def aclose(self) -> None:
        await self._client.close()

    async def _embed(self, texts: list[str]) -> np.ndarray:
        rows: list[Any] = []
        for start in range(0, len(texts), BATCH):
            batch = [t[:MAX_INPUT_CHARS] or " " for t in texts[start : start + BATCH]]
            response = await self._client.embeddings.create(model=self.model, input=batch)
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise ValueError(f"{len(data)} embeddings for {len(batch)} inputs")
            rows.extend(d.embedding for d in data)
        matrix = np.asarray(rows, dtype=np.float64)
        if matrix.ndim != 2 or not matrix.shape[1]:
            raise ValueError("embeddings are not vectors of one length")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)

    async def _passage_vectors(self, index: MaterialIndex) -> np.ndarray:
        cached = self._vectors.get(index.digest)
        if cached is not None:
            self._vectors.move_to_end(index.digest)
            return cached
        task = self._pending.get(index.digest)
        if task is None:
            # Concurrent requests on the same material share one embedding run.
            texts = [f"{p.heading}\n{p.text}".strip() for p in index.passages]
            task = asyncio.ensure_future(self._embed(texts))
            self._pending[index.digest] = task
            key = index.digest

            def forget(_task: asyncio.Task[np.ndarray]) -> None:
                self._pending.pop(key, None)

            task.add_done_callback(forget)
        vectors = await asyncio.shield(task)
        self._vectors[index.digest] = vectors
        while len(self._vectors) > self.cache_size:
            self._vectors.popitem(last=False)
        return vectors

    async def ground(self, index: MaterialIndex, query: str, k: int) -> Grounding:
        if not query.strip() or not len(index):
            return await self.fallback.ground(index, query, k)
        if self._retry_at is not None and self._clock() < self._retry_at:
            return await self.fallback.ground(index, query, k)
        try:
            async with asyncio.timeout(self.timeout_s):
                passages = await self._passage_vectors(index)
                question = await self._embed([query])
            if question.shape[1] != passages.shape[1]:
                raise ValueError("query and passage embeddings differ in length")
        except (openai.OpenAIError, ValueError, TimeoutError) as exc:
            self.failures += 1
            log = logger.debug if self._retry_at is not None else logger.warning
            log(
                "EmbeddingsRetriever(%s) failed (%s); ranking by %s, next try in %.0f s",
                self.model,
                str(exc) or type(exc).__name__,
                self.fallback.name,
                self.retry_after_s,
            )
            self._retry_at = self._clock() + self.retry_after_s
            return await self.fallback.ground(index, query, k)
        if self._retry_at is not None:
            logger.info("EmbeddingsRetriever(%s) answers again", self.model)
            self._retry_at = None
        scores = passages @ question[0]
        order = np.lexsort((np.arange(len(scores)), -scores))
        hits = tuple(Hit(int(i), float(scores[i])) for i in order[:k] if scores[i] > MIN_COSINE)
        if not hits:
            return opening(index, query, k, ranker=self.name)
        return Grounding(index=index, hits=hits, ranker=self.name, query=query)
