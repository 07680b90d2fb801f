"""Coalesces streamed tokens into chunks under a latency budget (pure).

Publishing every token costs one serialisation and one data-channel send
per audience; publishing whole paragraphs makes students wait.  A chunk is
flushed at the first of:

* a natural boundary: sentence punctuation (``.``, ``!``, ``?``) at the end
  of the buffer or followed by whitespace, or a line break (ends a heading,
  a list item or a paragraph) — but not sooner than ``min_interval_ms`` after
  the previous chunk (a large class: every chunk costs one send per student,
  so boundaries close together are merged);
* the oldest buffered token being ``max_delay_ms`` old;
* the buffer reaching ``max_chars``.

``max_delay_ms == 0`` turns coalescing off: one chunk per token.  The
caller owns the clock and passes ``now_ms``; it should call :meth:`due`
when :meth:`deadline_ms` passes without a new token.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_CHARS", "DEFAULT_MAX_DELAY_MS", "Chunker", "split_at_boundaries"]

DEFAULT_MAX_DELAY_MS = 40.0
DEFAULT_MAX_CHARS = 400
_SENTENCE_END = ".!?"


def _last_boundary(text: str, start: int = 0) -> int:
    """Index just past the last boundary in ``text[start:]``, or 0 if none."""
    for i in range(len(text) - 1, start - 1, -1):
        ch = text[i]
        if ch == "\n":
            return i + 1
        if ch in _SENTENCE_END and (i + 1 == len(text) or text[i + 1].isspace()):
            return i + 1
    return 0


def split_at_boundaries(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Splits complete text at the same boundaries :class:`Chunker` flushes at.

    Used to replay cached text: no clock is involved, so every natural
    boundary (and ``max_chars``) ends a chunk.
    """
    chunks: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        boundary = ch == "\n" or (
            ch in _SENTENCE_END and (i + 1 == len(text) or text[i + 1].isspace())
        )
        if boundary or i + 1 - start >= max_chars:
            chunks.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        chunks.append(text[start:])
    return chunks


class Chunker:
    def __init__(
        self,
        *,
        max_delay_ms: float = DEFAULT_MAX_DELAY_MS,
        max_chars: int = DEFAULT_MAX_CHARS,
        min_interval_ms: float = 0.0,
    ) -> None:
        if max_delay_ms < 0:
            raise ValueError("max_delay_ms must be >= 0")
        if max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        self.max_delay_ms = max_delay_ms
        self.max_chars = max_chars
        self.min_interval_ms = min_interval_ms
        self._buffer = ""
        self._oldest_ms: float | None = None
        self._last_flush_ms: float | None = None

    @property
    def coalescing(self) -> bool:
        return self.max_delay_ms > 0

    @property
    def pending(self) -> str:
        return self._buffer

    def push(self, text: str, now_ms: float) -> list[str]:
        """Adds a token; returns the chunks that must be published now."""
        if not text:
            return self.due(now_ms)
        if not self.coalescing:
            return [text]
        if not self._buffer:
            self._oldest_ms = now_ms
        # The buffer never ends in a boundary (it would have been flushed), so
        # only the new text can contain one.
        start = len(self._buffer)
        self._buffer += text
        out: list[str] = []
        if len(self._buffer) >= self.max_chars:
            out.append(self._take(len(self._buffer), now_ms))
            return out
        last = self._last_flush_ms
        spaced = last is None or now_ms - last >= self.min_interval_ms
        cut = _last_boundary(self._buffer, 0 if self.min_interval_ms else start) if spaced else 0
        if cut:
            out.append(self._take(cut, now_ms))
        out.extend(self.due(now_ms))
        return out

    def due(self, now_ms: float) -> list[str]:
        """Flushes the buffer if its oldest token has waited ``max_delay_ms``."""
        deadline = self.deadline_ms()
        if deadline is not None and now_ms >= deadline:
            return [self._take(len(self._buffer), now_ms)]
        return []

    def deadline_ms(self) -> float | None:
        """When the buffered text must be flushed, or None if nothing is buffered."""
        if not self._buffer or self._oldest_ms is None:
            return None
        return self._oldest_ms + self.max_delay_ms

    def flush(self) -> list[str]:
        """Everything still buffered (end of stream)."""
        if not self._buffer:
            return []
        return [self._take(len(self._buffer), None)]

    def _take(self, end: int, now_ms: float | None) -> str:
        self._last_flush_ms = now_ms
        chunk, self._buffer = self._buffer[:end], self._buffer[end:]
        # The remainder arrived with the latest token: its age starts now.
        self._oldest_ms = now_ms if self._buffer else None
        return chunk
