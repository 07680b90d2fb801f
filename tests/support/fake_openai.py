"""A local server speaking the OpenAI chat-completions streaming wire format.

The real API cannot be reached from tests, so this is the one fake the test
suite uses.  It emits exactly what the API emits for ``stream=True``:
``data: {json}\\n\\n`` events — a first chunk with the role delta, one chunk
per content delta, a chunk with ``finish_reason``, the usage chunk with empty
``choices`` when ``stream_options.include_usage`` is set, then
``data: [DONE]``.  ``/v1/images/generations`` answers with ``b64_json``.
``/v1/embeddings`` answers with deterministic vectors: a hashed bag of the
input's lower-cased words (:func:`fake_embedding`), so texts that share
words are close, as with a real model; it honours ``encoding_format``
("float", or "base64" which the ``openai`` client asks for by default).

Each request consumes the next scripted :class:`Behaviour` (or the default)
and is recorded together with how it ended, so tests can prove that a
cancelled client really closed the upstream connection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from aiohttp import web

Mode = Literal["normal", "error_mid", "drop_mid", "hang", "status"]

DEFAULT_TOKENS = ["Photo", "synthesis", " turns", " light", " into", " sugar", "."]
# A 1x1 transparent PNG.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


EMBEDDING_DIMENSIONS = 64
_EMBED_WORD = re.compile(r"\w+")


def fake_embedding(text: str) -> list[float]:
    """A unit vector: each lower-cased word adds 1 at a hashed position."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in _EMBED_WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % EMBEDDING_DIMENSIONS] += 1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


@dataclass
class Behaviour:
    mode: Mode = "normal"
    tokens: list[str] = field(default_factory=lambda: list(DEFAULT_TOKENS))
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    fail_after: int = 2
    status: int = 500
    hang_s: float = 30.0


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    tokens_sent: int = 0
    outcome: str = "open"  # "completed" | "disconnected" | "error" | "dropped" | "status" | "hung"
    ended_at: float | None = None


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: deque[Behaviour] = deque()
        self.image_script: deque[Behaviour] = deque()
        self.embedding_script: deque[Behaviour] = deque()
        self.default = Behaviour()
        self.requests: list[RecordedRequest] = []
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/images/generations", self._images)
        self.app.router.add_post("/v1/embeddings", self._embeddings)
        self.base_url = ""

    def then(self, *behaviours: Behaviour) -> FakeOpenAI:
        self.script.extend(behaviours)
        return self

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    @property
    def disconnects(self) -> int:
        return sum(r.outcome == "disconnected" for r in self.requests)

    async def wait_for_outcome(self, index: int, timeout_s: float = 5.0) -> str:
        """Waits until request ``index`` has ended and returns how it ended."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(self.requests) > index and self.requests[index].outcome != "open":
                return self.requests[index].outcome
            await asyncio.sleep(0.01)
        return "open"

    def _chunk(self, model: str, delta: dict[str, Any], finish: str | None, usage: bool) -> str:
        obj: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage:
            obj["usage"] = None
        return f"data: {json.dumps(obj)}\n\n"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record = RecordedRequest(request.path, body)
        self.requests.append(record)
        b = self.script.popleft() if self.script else self.default
        if b.mode == "status":
            record.outcome = "status"
            return web.json_response(
                {"error": {"message": "scripted failure", "type": "server_error", "code": None}},
                status=b.status,
            )
        if b.mode == "hang":
            try:
                await asyncio.wait_for(self.release.wait(), b.hang_s)
            except TimeoutError:
                pass
            record.outcome = "hung"
            return web.Response(status=204)
        model = body.get("model", "fake-model")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            await asyncio.sleep(b.first_token_delay_s)
            await self._write(
                request,
                resp,
                self._chunk(model, {"role": "assistant", "content": ""}, None, include_usage),
            )
            for i, token in enumerate(b.tokens):
                if b.mode in ("error_mid", "drop_mid") and i == b.fail_after:
                    if b.mode == "error_mid":
                        err = {
                            "error": {"message": "upstream model crashed", "type": "server_error"}
                        }
                        await self._write(request, resp, f"data: {json.dumps(err)}\n\n")
                        record.outcome = "error"
                        return resp
                    record.outcome = "dropped"
                    assert request.transport is not None
                    request.transport.close()
                    return resp
                if i and b.token_delay_s:
                    await asyncio.sleep(b.token_delay_s)
                await self._write(
                    request, resp, self._chunk(model, {"content": token}, None, include_usage)
                )
                record.tokens_sent += 1
            await self._write(request, resp, self._chunk(model, {}, "stop", include_usage))
            if include_usage:
                usage = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": 1700000000,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                        "completion_tokens": len(b.tokens),
                        "total_tokens": 0,
                    },
                }
                await self._write(request, resp, f"data: {json.dumps(usage)}\n\n")
            await self._write(request, resp, "data: [DONE]\n\n")
            await resp.write_eof()
            record.outcome = "completed"
        except ConnectionResetError:
            record.outcome = "disconnected"
        except asyncio.CancelledError:
            # aiohttp cancels the handler when the client's connection is lost.
            record.outcome = "disconnected" if self._lost(request) else "cancelled"
            raise
        finally:
            record.ended_at = time.monotonic()
        return resp

    @staticmethod
    def _lost(request: web.Request) -> bool:
        return request.transport is None or request.transport.is_closing()

    @staticmethod
    async def _write(request: web.Request, resp: web.StreamResponse, data: str) -> None:
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("client went away")
        await resp.write(data.encode())

    async def _images(self, request: web.Request) -> web.Response:
        body = await request.json()
        record = RecordedRequest(request.path, body)
        self.requests.append(record)
        b = self.image_script.popleft() if self.image_script else Behaviour()
        if b.mode == "status":
            record.outcome = "status"
            return web.json_response(
                {"error": {"message": "image model unavailable", "type": "server_error"}},
                status=b.status,
            )
        record.outcome = "completed"
        return web.json_response(
            {
                "created": 1700000000,
                "data": [
                    {
                        "b64_json": base64.b64encode(PNG_1X1).decode(),
                        "revised_prompt": body["prompt"],
                    }
                ],
            }
        )

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        record = RecordedRequest(request.path, body)
        self.requests.append(record)
        b = self.embedding_script.popleft() if self.embedding_script else Behaviour()
        if b.mode == "status":
            record.outcome = "status"
            return web.json_response(
                {"error": {"message": "no such embeddings model", "type": "invalid_request_error"}},
                status=b.status,
            )
        inputs = body["input"]
        if isinstance(inputs, str):
            inputs = [inputs]
        data = []
        for i, text in enumerate(inputs):
            vector = fake_embedding(text)
            if body.get("encoding_format") == "base64":
                encoded: object = base64.b64encode(np.array(vector, dtype="<f4").tobytes()).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        record.outcome = "completed"
        tokens = sum(len(_EMBED_WORD.findall(t)) for t in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake-embedding"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
