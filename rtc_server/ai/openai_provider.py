"""Text and image providers on the official ``openai`` async client.

The client's own retries are disabled (``max_retries=0``): the SDK would
retry a request whose stream had already started delivering tokens to
students, which would duplicate text.  We retry ourselves, and only before
the first delta.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI

from .exceptions import GenerationFailed, GenerationTimeout
from .prompts import build_image_prompt
from .provider import ImageRequest, ImageResult, TextDelta, TextRequest, Usage

__all__ = ["OpenAIImageProvider", "OpenAISettings", "OpenAITextProvider"]

logger = logging.getLogger(__name__)

#: Status codes worth another attempt before the first token.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 10.0


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """Connection settings; give ``azure_endpoint`` + ``api_version`` for Azure.

    ``timeout_s`` bounds the wait for any bytes (connect and each read), so a
    provider that hangs fails within it.  ``max_retries`` counts extra
    attempts before the first token; ``backoff_s`` is the first delay,
    doubled per attempt up to ``max_backoff_s``.
    """

    model: str
    api_key: str
    base_url: str | None = None
    azure_endpoint: str | None = None
    api_version: str | None = None
    timeout_s: float = 30.0
    max_retries: int = 2
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def make_client(self) -> AsyncOpenAI:
        if self.azure_endpoint is not None:
            if not self.api_version:
                raise ValueError("azure_endpoint needs api_version")
            return AsyncAzureOpenAI(
                azure_endpoint=self.azure_endpoint,
                api_version=self.api_version,
                api_key=self.api_key,
                timeout=self.timeout_s,
                max_retries=0,
            )
        return AsyncOpenAI(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,
        )


def _retry_after_s(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(float(value), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def _classify(exc: Exception) -> tuple[str, bool, int | None]:
    """(reason, retryable, status) for an exception raised by the SDK."""
    if isinstance(exc, openai.APITimeoutError):
        return "timed out waiting for the provider", True, None
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {cause}" if cause is not None else ""
        return f"connection error{detail}", True, None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return f"status {status}: {exc.message}", status in RETRYABLE_STATUS, status
    if isinstance(exc, openai.APIError):
        return f"provider error: {exc.message}", False, None
    return f"{type(exc).__name__}: {exc}", False, None


class OpenAITextProvider:
    """Streams chat completions; usage comes from the final usage chunk."""

    def __init__(self, settings: OpenAISettings, *, client: AsyncOpenAI | None = None) -> None:
        self._settings = settings
        self._client = client if client is not None else settings.make_client()
        self._sleep = asyncio.sleep

    @property
    def name(self) -> str:
        return "azure-openai" if self._settings.azure_endpoint else "openai"

    @property
    def model(self) -> str | None:
        return self._settings.model

    async def aclose(self) -> None:
        await self._client.close()

    async def _open(self, request: TextRequest) -> Any:
        kwargs: dict[str, Any] = {
            "model": self._settings.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": request.temperature,
        }
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        return await self._client.chat.completions.create(**kwargs)

    async def stream(self, request: TextRequest) -> AsyncIterator[TextDelta]:
        settings = self._settings
        attempt = 0
        while True:
            attempt += 1
            stream: Any = None
            emitted: list[str] = []
            try:
                stream = await self._open(request)
                async for chunk in stream:
                    if chunk.usage is not None and not chunk.choices:
                        yield TextDelta(
                            usage=Usage(
                                prompt_tokens=chunk.usage.prompt_tokens,
                                completion_tokens=chunk.usage.completion_tokens,
                            )
                        )
                        continue
                    for choice in chunk.choices:
                        text = choice.delta.content if choice.delta is not None else None
                        if text:
                            emitted.append(text)
                            yield TextDelta(text=text)
                return
            except openai.OpenAIError as exc:
                reason, retryable, status = _classify(exc)
                timed_out = isinstance(exc, openai.APITimeoutError)
                if emitted:
                    # Tokens already reached students: a retry would repeat them.
                    raise GenerationFailed(
                        reason,
                        provider=self.name,
                        stage="stream",
                        partial_text="".join(emitted),
                        attempts=attempt,
                        status_code=status,
                    ) from exc
                if not retryable or attempt > settings.max_retries:
                    error_cls = GenerationTimeout if timed_out else GenerationFailed
                    raise error_cls(
                        reason,
                        provider=self.name,
                        stage="connect",
                        attempts=attempt,
                        status_code=status,
                    ) from exc
                delay = min(settings.backoff_s * 2 ** (attempt - 1), settings.max_backoff_s)
                if isinstance(exc, openai.APIStatusError):
                    delay = max(delay, _retry_after_s(exc) or 0.0)
                logger.warning(
                    "OpenAITextProvider(%s) attempt %d failed before first token (%s); "
                    "retrying in %.2fs",
                    settings.model,
                    attempt,
                    reason,
                    delay,
                )
                await self._sleep(delay)
            finally:
                # Runs on completion, error, aclose() and cancellation alike: an
                # abandoned stream must not keep the upstream generating.
                if stream is not None:
                    await stream.close()


class OpenAIImageProvider:
    """``images.generate``; returns a URL or an inline base64 data URL."""

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        client: AsyncOpenAI | None = None,
        response_format: str | None = None,
    ) -> None:
        self._settings = settings
        self._client = client if client is not None else settings.make_client()
        self._response_format = response_format

    @property
    def name(self) -> str:
        return "azure-openai-images" if self._settings.azure_endpoint else "openai-images"

    async def aclose(self) -> None:
        await self._client.close()

    async def generate(self, request: ImageRequest) -> ImageResult:
        prompt = build_image_prompt(request)
        kwargs: dict[str, Any] = {
            "model": self._settings.model,
            "prompt": prompt,
            "size": request.size,
            "n": 1,
        }
        if self._response_format is not None:
            kwargs["response_format"] = self._response_format
        try:
            response = await self._client.images.generate(**kwargs)
        except openai.OpenAIError as exc:
            reason, _, status = _classify(exc)
            error_cls = GenerationTimeout if isinstance(exc, openai.APITimeoutError) else None
            raise (error_cls or GenerationFailed)(
                reason, provider=self.name, stage="connect", status_code=status
            ) from exc
        if not response.data:
            raise GenerationFailed("no image in response", provider=self.name, stage="stream")
        image = response.data[0]
        alt = request.description
        if image.b64_json:
            return ImageResult(
                provider=self.name,
                mime="image/png",
                data=f"data:image/png;base64,{image.b64_json}",
                alt=alt,
                metadata={"revised_prompt": image.revised_prompt},
            )
        if image.url:
            return ImageResult(provider=self.name, mime="image/png", url=image.url, alt=alt)
        raise GenerationFailed(
            "image has neither url nor b64_json", provider=self.name, stage="stream"
        )
