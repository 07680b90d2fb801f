"""Errors of a teacher's material: each has a stable ``code`` the edge puts in its reply.

::

    InvalidRequest                (rtc_server.base.exceptions, 422)
    └── MaterialError             a file or text cannot be used as material
        ├── MaterialTooLarge          over the size or page limit  (material_too_large, 413)
        ├── MaterialUnsupported       not text, Markdown or PDF    (material_unsupported, 415)
        ├── MaterialNotUtf8           text that is not UTF-8       (material_not_utf8)
        ├── MaterialNotPdf            says PDF, is not a PDF       (material_not_pdf)
        ├── MaterialEncrypted         a PDF that needs a password  (material_encrypted)
        └── MaterialNoText            nothing readable inside      (material_no_text)
"""

from __future__ import annotations

from rtc_server.base.exceptions import InvalidRequest

__all__ = [
    "MaterialEncrypted",
    "MaterialError",
    "MaterialNoText",
    "MaterialNotPdf",
    "MaterialNotUtf8",
    "MaterialTooLarge",
    "MaterialUnsupported",
]


class MaterialError(InvalidRequest):
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
    http_status = 413

    def __init__(self, size: int, limit: int, *, unit: str = "bytes", filename: str = "") -> None:
        super().__init__(f"is {size} {unit}, over the limit of {limit} {unit}", filename=filename)
        self.size = size
        self.limit = limit


class MaterialUnsupported(MaterialError):
    code = "material_unsupported"
    http_status = 415


class MaterialNotUtf8(MaterialError):
    code = "material_not_utf8"


class MaterialNotPdf(MaterialError):
    code = "material_not_pdf"


class MaterialEncrypted(MaterialError):
    code = "material_encrypted"


class MaterialNoText(MaterialError):
    code = "material_no_text"
