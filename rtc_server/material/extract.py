"""Turning a teacher's file or pasted text into a :class:`Material` (pure).

Plain text and Markdown must be UTF-8 (a byte-order mark is accepted);
PDFs are read with pypdf, page by page, in its layout mode so that the
blank lines between paragraphs survive (the plain mode runs paragraphs
together).  Nothing is fetched: a material is only what was uploaded.

Every refusal is a :class:`~rtc_server.content.exceptions.MaterialError`
with a stable code: too large, unsupported type, not UTF-8, not a PDF,
encrypted, or no extractable text (e.g. a scanned PDF: there is no OCR).
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
import uuid
from pathlib import PurePosixPath

from .exceptions import (
    MaterialEncrypted,
    MaterialNoText,
    MaterialNotPdf,
    MaterialNotUtf8,
    MaterialTooLarge,
    MaterialUnsupported,
)
from .material import PAGE_BREAK, Material, MaterialKind

__all__ = [
    "DEFAULT_MAX_MATERIAL_BYTES",
    "DEFAULT_MAX_PDF_PAGES",
    "extract_material",
    "material_from_text",
    "material_kind",
]

logger = logging.getLogger(__name__)

#: Largest upload accepted by default (a 20-page text PDF is ~100 KB).
DEFAULT_MAX_MATERIAL_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PDF_PAGES = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_RUNS_OF_SPACES = re.compile(r"[ \t\u00a0]{2,}")
_MD_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)
_EXTENSIONS: dict[str, MaterialKind] = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
_CONTENT_TYPES: dict[str, MaterialKind] = {
    "application/pdf": "pdf",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}


def material_kind(filename: str = "", content_type: str = "", data: bytes = b"") -> MaterialKind:
    """The kind named by the file name, else by the content type, else sniffed."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix:
        kind = _EXTENSIONS.get(suffix)
        if kind is None:
            raise MaterialUnsupported(
                f"files of type {suffix!r} are not supported (text, Markdown or PDF only)",
                filename=filename,
            )
        return kind
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime and mime != "application/octet-stream":
        kind = _CONTENT_TYPES.get(mime)
        if kind is None:
            raise MaterialUnsupported(
                f"content type {mime!r} is not supported (text, Markdown or PDF only)",
                filename=filename,
            )
        return kind
    return "pdf" if data[:1024].lstrip().startswith(b"%PDF-") else "text"


def _normalise(text: str) -> str:
    # NFC: PDFs often store Hangul as decomposed jamo, which would never match typed words.
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _title(text: str, kind: MaterialKind, filename: str, pdf_title: str = "") -> str:
    if kind == "markdown":
        match = _MD_TITLE.search(text)
        if match:
            return match.group(1)[:200]
    if pdf_title.strip():
        return pdf_title.strip()[:200]
    if filename:
        return PurePosixPath(filename).stem[:200]
    first = next((ln.strip() for ln in text.split("\n") if ln.strip()), "Material")
    return first[:80]


def material_from_text(
    text: str,
    *,
    title: str = "",
    kind: MaterialKind = "text",
    material_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_MATERIAL_BYTES,
    created_at: float | None = None,
    filename: str = "",
) -> Material:
    """Pasted text (or Markdown) as material."""
    if kind == "pdf":
        raise MaterialUnsupported("pasted text cannot be a PDF", filename=filename)
    size = len(text.encode())
    if size > max_bytes:
        raise MaterialTooLarge(size, max_bytes, filename=filename)
    # A form feed separates PDF pages; in typed text it is only a paragraph break.
    clean = _normalise(text.replace(PAGE_BREAK, "\n\n"))
    if not any(c.isalnum() for c in clean):
        raise MaterialNoText("contains no text", filename=filename)
    return Material(
        id=material_id or uuid.uuid4().hex[:12],
        title=title.strip() or _title(clean, kind, filename),
        kind=kind,
        text=clean,
        pages=1,
        size=size,
        created_at=time.time() if created_at is None else created_at,
    )


def _pdf_pages(data: bytes, filename: str, max_pages: int) -> tuple[list[str], str]:
    """Page texts and the document title (pypdf imported here: only PDFs need it)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if b"%PDF-" not in data[:1024]:
        raise MaterialNotPdf("is not a PDF (no %PDF header)", filename=filename)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # An owner password only restricts printing/copying; a user password locks it.
            raise MaterialEncrypted("is encrypted with a password", filename=filename)
        count = len(reader.pages)
    except MaterialEncrypted:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise MaterialNotPdf(f"cannot be read as a PDF: {exc}", filename=filename) from None
    if count > max_pages:
        raise MaterialTooLarge(count, max_pages, unit="pages", filename=filename)
    pages: list[str] = []
    for number, page in enumerate(reader.pages, 1):
        try:
            text = page.extract_text(extraction_mode="layout", layout_mode_space_vertically=True)
        except Exception as exc:  # layout mode is newer; the plain mode still has the words
            logger.info("extract(%s) page %d: layout mode failed (%s)", filename, number, exc)
            text = page.extract_text()
        lines = (_RUNS_OF_SPACES.sub(" ", ln).strip() for ln in text.split("\n"))
        pages.append("\n".join(lines))
    title = ""
    try:
        metadata = reader.metadata
        title = str(metadata.get("/Title") or "") if metadata is not None else ""
    except (PdfReadError, ValueError, KeyError, TypeError):
        pass  # damaged metadata: the file name names it instead
    return pages, title


def extract_material(
    data: bytes,
    *,
    filename: str = "",
    content_type: str = "",
    title: str = "",
    material_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_MATERIAL_BYTES,
    max_pages: int = DEFAULT_MAX_PDF_PAGES,
    created_at: float | None = None,
) -> Material:
    """An uploaded file as material; the kind comes from the name, type or bytes."""
    if len(data) > max_bytes:
        raise MaterialTooLarge(len(data), max_bytes, filename=filename)
    kind = material_kind(filename, content_type, data)
    if kind != "pdf":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MaterialNotUtf8(
                f"is not UTF-8 text (invalid byte at offset {exc.start})", filename=filename
            ) from None
        return material_from_text(
            text,
            title=title,
            kind=kind,
            material_id=material_id,
            max_bytes=max_bytes,
            created_at=created_at,
            filename=filename,
        )
    pages, pdf_title = _pdf_pages(data, filename, max_pages)
    pages = [_normalise(p) for p in pages]
    if not any(any(c.isalnum() for c in p) for p in pages):
        raise MaterialNoText(
            "has no extractable text (a scanned PDF? text recognition is not supported)",
            filename=filename,
        )
    text = PAGE_BREAK.join(pages)
    return Material(
        id=material_id or uuid.uuid4().hex[:12],
        title=title.strip() or _title(text, "pdf", filename, pdf_title),
        kind="pdf",
        text=text,
        pages=len(pages),
        size=len(data),
        created_at=time.time() if created_at is None else created_at,
    )
