"""Errors raised by the content pipeline.

::

    ContentError
    ├── InvalidContentRequest     a request failed validation (names the field)
    ├── GenerationFailed          the provider failed; carries partial text
    │   └── GenerationTimeout     no bytes within the provider timeout
    ├── GenerationNotFound        cancel() for an unknown or finished generation
    └── MaterialError             a teacher's file or text cannot be used as material
        ├── MaterialTooLarge          over the size limit          (material_too_large)
        ├── MaterialUnsupported       not text, Markdown or PDF    (material_unsupported)
        ├── MaterialNotUtf8           text that is not UTF-8       (material_not_utf8)
        ├── MaterialNotPdf            says PDF, is not a PDF       (material_not_pdf)
        ├── MaterialEncrypted         a PDF that needs a password  (material_encrypted)
        └── MaterialNoText            nothing readable inside      (material_no_text)

Every :class:`MaterialError` has a stable ``code`` (in brackets above) that
the HTTP/WebSocket edge puts in its error reply next to the message.

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
    "MaterialEncrypted",
    "MaterialError",
    "MaterialNoText",
    "MaterialNotPdf",
    "MaterialNotUtf8",
    "MaterialTooLarge",
    "MaterialUnsupported",
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


class MaterialError(ContentError):
    """A file or pasted text cannot be turned into lesson material.

    ``code`` is stable (clients may branch on it); ``filename`` names the
    upload when there was one.
    """

    code = "material_invalid"

    def __init__(self, message: str, *, filename: str = "") -> None:
        super().__init__(f"{filename}: {message}" if filename else message)
        self.message = message
        self.filename = filename


class MaterialTooLarge(MaterialError):
    code = "material_too_large"

    def __init__(self, size: int, limit: int, *, unit: str = "bytes", filename: str = "") -> None:
        super().__init__(f"is {size} {unit}, over the limit of {limit} {unit}", filename=filename)
        self.size = size
        self.limit = limit


class MaterialUnsupported(MaterialError):
    code = "material_unsupported"


class MaterialNotUtf8(MaterialError):
    code = "material_not_utf8"


class MaterialNotPdf(MaterialError):
    code = "material_not_pdf"


class MaterialEncrypted(MaterialError):
    code = "material_encrypted"


class MaterialNoText(MaterialError):
    code = "material_no_text"
