"""Errors raised by the content pipeline.

::

    ContentError
    ├── InvalidContentRequest     a request failed validation (names the field)
    ├── GenerationFailed          the provider failed; carries partial text
    │   └── GenerationTimeout     no bytes within the provider timeout
    └── GenerationNotFound        cancel() for an unknown or finished generation

Only the aiohttp handlers in the server core turn these into HTTP status
codes or error events.
"""

from __future__ import annotations

__all__ = [
    "ContentError",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationTimeout",
    "InvalidContentRequest",
]


class ContentError(Exception):
    """Base class of every content-pipeline error."""


class InvalidContentRequest(ContentError):
    """A content request is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid content request: {field}: {message}")
        self.field = field
        self.message = message


class GenerationFailed(ContentError):
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


class GenerationNotFound(ContentError):
    """No running generation has this id."""

    def __init__(self, generation_id: str) -> None:
        super().__init__(f"no running generation {generation_id!r}")
        self.generation_id = generation_id
