"""Errors of model access.

::

    ModelError
    └── GenerationFailed          the provider failed; carries partial text
        └── GenerationTimeout     no bytes within the provider timeout
"""

from __future__ import annotations

__all__ = ["GenerationFailed", "GenerationTimeout", "ModelError"]


class ModelError(Exception):
    """Base class of every model-access error."""


class GenerationFailed(ModelError):
    """The provider failed before or during streaming.

    ``stage`` is ``"connect"`` (before the first token, after all retries) or
    ``"stream"`` (mid-stream, never retried).  ``partial_text`` is whatever
    text had been produced when the failure happened.
    """

    def __init__(
        self,
        reason: str,
        *,
        provider: str,
        stage: str,
        partial_text: str = "",
        attempts: int = 1,
        status_code: int | None = None,
    ) -> None:
        super().__init__(f"{provider}: generation failed during {stage}: {reason}")
        self.reason = reason
        self.provider = provider
        self.stage = stage
        self.partial_text = partial_text
        self.attempts = attempts
        self.status_code = status_code


class GenerationTimeout(GenerationFailed):
    """The provider sent nothing within its timeout."""
