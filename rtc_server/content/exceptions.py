"""Errors raised by the content pipeline.

::

    ContentError
    ├── InvalidContentRequest     a request failed validation (names the field)
    └── GenerationNotFound        cancel() for an unknown or finished generation

    InvalidRequest                (rtc_server.base.exceptions: an ``error`` reply)
    └── UnknownGeneration         not_found: a message names no generation of its session

A teacher's file that cannot be used raises
:class:`rtc_server.material.exceptions.MaterialError` (re-exported here).

A failing model raises :class:`rtc_server.ai.exceptions.GenerationFailed`
(re-exported here). The feature turns these into domain errors; only the edge
turns those into HTTP statuses or error replies.
"""

from __future__ import annotations

from rtc_server.ai.exceptions import GenerationFailed, GenerationTimeout
from rtc_server.base.exceptions import InvalidRequest
from rtc_server.material.exceptions import (
    MaterialEncrypted,
    MaterialError,
    MaterialNoText,
    MaterialNotPdf,
    MaterialNotUtf8,
    MaterialTooLarge,
    MaterialUnsupported,
)

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
    "UnknownGeneration",
]


class ContentError(Exception):
    """Base class of every content-pipeline error."""


class InvalidContentRequest(ContentError):
    """A content request is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid content request: {field}: {message}")
        self.field = field
        self.message = message


class UnknownGeneration(InvalidRequest):
    """A client message names a generation its session does not have (another class's,
    or none)."""

    code = "not_found"


class GenerationNotFound(ContentError):
    """No running generation has this id."""

    def __init__(self, generation_id: str) -> None:
        super().__init__(f"no running generation {generation_id!r}")
        self.generation_id = generation_id
