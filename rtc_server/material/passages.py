"""Splitting material into passages and sentences (pure, deterministic).

A passage is about a paragraph: long paragraphs are cut at sentence
boundaries, short ones are packed with the next under the same heading and
page.  Headings come from Markdown (``# ...``) or, in plain text and PDFs,
from a short line without closing punctuation that stands at the top of a
block.  Passage ids (``p1``, ``p2``, ...) follow document order, so the same
text always yields the same ids.
"""

from __future__ import annotations

import re

from .material import Material, Passage

__all__ = [
    "MAX_PASSAGE_CHARS",
    "MIN_PASSAGE_CHARS",
    "clean_inline",
    "split_passages",
    "split_sentences",
]

#: A passage is cut at a sentence boundary before it grows past this.
MAX_PASSAGE_CHARS = 900
#: Shorter paragraphs are packed together with the next one.
MIN_PASSAGE_CHARS = 160
#: A plain-text line up to this long without closing punctuation can be a heading.
MAX_HEADING_CHARS = 80

_BLOCKS = re.compile(r"\n[ \t]*\n+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\s*$", re.I)
_SENTENCE_END = re.compile(r"[.!?。？！]+[\"”’')\]]*(?=\s)")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc mr mrs ms dr st vs approx no fig cf al ca jr sr prof u.s u.k".split()
)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_inline(text: str) -> str:
    """Markdown inline markup removed: links keep their text, emphasis its words."""
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _HTML_TAG.sub("", text)
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage; list items and lines of their own count as sentences."""
    out: list[str] = []
    for line in text.split("\n"):
        line = _LIST_ITEM.sub("", line).strip()
        start = 0
        for match in _SENTENCE_END.finditer(line):
            end = match.end()
            before = line[start : match.start()].rsplit(" ", 1)[-1].lower().rstrip(".")
            if match.group().startswith(".") and (
                before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha())
            ):
                continue  # "e.g." or an initial, not the end of a sentence
            piece = line[start:end].strip()
            if piece:
                out.append(piece)
            start = end
        tail = line[start:].strip()
        if tail:
            out.append(tail)
    return out


def _is_plain_heading(line: str, rest: list[str]) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_HEADING_CHARS or _LIST_ITEM.match(line):
        return False
    if stripped[-1] in ".!?:;,)\"”'’-" or not any(c.isalpha() for c in stripped):
        return False
    # A lone short line, or one followed by longer running text.
    return not rest or len(" ".join(rest)) > len(stripped)


def _units(material: Material) -> list[tuple[str, int | None, str]]:
    """(heading, page, paragraph) in document order."""
    units: list[tuple[str, int | None, str]] = []
    heading = ""
    for number, page_text in enumerate(material.page_texts, 1):
        page = number if material.kind == "pdf" else None
        for block in _BLOCKS.split(page_text):
            lines = [ln for ln in block.split("\n") if ln.strip()]
            lines = [ln for ln in lines if not _PAGE_NUMBER.match(ln)]
            paragraph: list[str] = []
            for i, line in enumerate(lines):
                md = _MD_HEADING.match(line) if material.kind == "markdown" else None
                if md is not None:
                    if paragraph:
                        units.append((heading, page, _join(paragraph)))
                        paragraph = []
                    heading = clean_inline(md.group(2))
                elif (
                    material.kind != "markdown"
                    and i == 0
                    and _is_plain_heading(line, lines[1:])
                ):
                    heading = clean_inline(line)
                else:
                    paragraph.append(line)
            if paragraph:
                units.append((heading, page, _join(paragraph)))
    return units


def _join(lines: list[str]) -> str:
    """Wrapped lines become one line; list items stay one per line."""
    out: list[str] = []
    for line in lines:
        line = clean_inline(line)
        if out and not _LIST_ITEM.match(line):
            if out[-1].endswith("-") and line[:1].islower():
                out[-1] = out[-1][:-1] + line  # a word hyphenated across lines
            else:
                out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)


def _cut(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars`` (a single longer sentence stays whole)."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def split_passages(
    material: Material,
    *,
    max_chars: int = MAX_PASSAGE_CHARS,
    min_chars: int = MIN_PASSAGE_CHARS,
) -> tuple[Passage, ...]:
    passages: list[Passage] = []
    buffer: list[str] = []
    key: tuple[str, int | None] = ("", None)

    def flush() -> None:
        if buffer:
            index = len(passages)
            text = "\n".join(buffer)
            passages.append(Passage(f"p{index + 1}", text, key[0], key[1], index))
            buffer.clear()

    for heading, page, paragraph in _units(material):
        if (heading, page) != key:
            flush()
            key = (heading, page)
        for piece in _cut(paragraph, max_chars):
            if buffer and len("\n".join(buffer)) + 1 + len(piece) > max_chars:
                flush()
            buffer.append(piece)
            if len("\n".join(buffer)) >= min_chars:
                flush()
    flush()
    return tuple(passages)
