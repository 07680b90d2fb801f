"""Model access: the provider contract and the OpenAI-compatible provider.

Features that use a model (lesson content, answer evaluation, hints) get one
from the core: :func:`make_model` reads the config once and returns the text
and image providers of an OpenAI-compatible endpoint (OpenAI, Azure, Ollama,
vLLM, llama.cpp by base URL), or ``(None, None)`` when none is configured —
each feature then uses its embedded fallback (the local lesson composer,
keyword evaluation, template hints). :func:`make_retriever` returns the
endpoint's embeddings ranker when ``openai_embeddings_model`` is set (else
None: the material's passages are ranked by BM25). The prompt templates
that more than one feature sends are in :mod:`.prompts`.
"""

from __future__ import annotations

import dataclasses

from rtc_server.config import Config
from rtc_server.material.embeddings import EmbeddingsRetriever

from .exceptions import GenerationFailed, GenerationTimeout, ModelError
from .openai_provider import OpenAIImageProvider, OpenAISettings, OpenAITextProvider
from .provider import (
    ChatMessage,
    Difficulty,
    ImageProvider,
    ImageRequest,
    ImageResult,
    LessonBrief,
    SectionSpec,
    TextDelta,
    TextProvider,
    TextRequest,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Difficulty",
    "GenerationFailed",
    "GenerationTimeout",
    "ImageProvider",
    "ImageRequest",
    "ImageResult",
    "LessonBrief",
    "ModelError",
    "OpenAIImageProvider",
    "OpenAISettings",
    "OpenAITextProvider",
    "SectionSpec",
    "TextDelta",
    "TextProvider",
    "TextRequest",
    "Usage",
    "make_model",
    "make_retriever",
]


#: Longest wait for the embeddings of a request: past it the request is ranked by BM25.
EMBEDDINGS_TIMEOUT_S = 10.0


def make_model(config: Config) -> tuple[TextProvider | None, ImageProvider | None]:
    """The configured model's text and image providers, or ``(None, None)`` for none."""
    settings = _endpoint(config)
    if settings is None:
        return None, None
    image_settings = dataclasses.replace(settings, model=config.openai_image_model)
    return OpenAITextProvider(settings), OpenAIImageProvider(image_settings)


def make_retriever(config: Config) -> EmbeddingsRetriever | None:
    """The endpoint's embeddings ranker, or None (no endpoint or no embeddings model)."""
    settings = _endpoint(config)
    if settings is None or not config.openai_embeddings_model:
        return None
    return EmbeddingsRetriever(settings.make_client(), config.openai_embeddings_model,
                               timeout_s=min(config.openai_timeout_s, EMBEDDINGS_TIMEOUT_S))


def _endpoint(config: Config) -> OpenAISettings | None:
    """The configured OpenAI-compatible endpoint (with the chat model), or None."""
    kind = config.content_provider
    if kind == "auto":
        kind = "openai" if (config.openai_api_key or config.openai_base_url) else "local"
        if config.azure_endpoint:
            kind = "azure"
    if kind == "local":
        return None
    if kind not in ("openai", "azure"):
        raise ValueError(f"content_provider must be local, openai, azure or auto, not {kind!r}")
    return OpenAISettings(
        model=config.openai_model,
        # Local servers (Ollama, vLLM, llama.cpp) accept any key; the client insists on one.
        api_key=config.openai_api_key or "not-needed",
        base_url=config.openai_base_url,
        azure_endpoint=config.azure_endpoint if kind == "azure" else None,
        api_version=config.azure_api_version,
        timeout_s=config.openai_timeout_s,
        max_retries=config.openai_max_retries,
    )
