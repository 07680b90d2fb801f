"""Embedded providers that need no network and no model.

:class:`LocalTextProvider` streams the local composer's text in word pieces
at a configurable pace; :class:`LocalImageProvider` draws a labelled concept
diagram as SVG.  Both name themselves ``local-composer`` so nobody mistakes
their output for a model's.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from collections.abc import AsyncIterator
from xml.sax.saxutils import escape

from rtc_server.ai.provider import ImageRequest, ImageResult, TextDelta, TextRequest, Usage

from .local_composer import compose, key_terms

__all__ = ["LOCAL_PROVIDER_NAME", "LocalImageProvider", "LocalTextProvider", "word_pieces"]

LOCAL_PROVIDER_NAME = "local-composer"
#: Longest word piece; longer words are split like a BPE tokenizer would.
MAX_PIECE_CHARS = 6
_PIECE = re.compile(r"\s*\S+|\s+")


def word_pieces(text: str) -> list[str]:
    """Splits text into token-like pieces (leading space kept, long words split)."""
    pieces: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group()
        while len(piece.strip()) > MAX_PIECE_CHARS:
            lead = len(piece) - len(piece.lstrip())
            pieces.append(piece[: lead + MAX_PIECE_CHARS])
            piece = piece[lead + MAX_PIECE_CHARS :]
        pieces.append(piece)
    return pieces


class LocalTextProvider:
    """Streams composed text; ``tokens_per_s=0`` streams as fast as possible."""

    def __init__(self, *, tokens_per_s: float = 40.0) -> None:
        if tokens_per_s < 0:
            raise ValueError("tokens_per_s must be >= 0")
        self.tokens_per_s = tokens_per_s

    @property
    def name(self) -> str:
        return LOCAL_PROVIDER_NAME

    @property
    def model(self) -> str | None:
        return None

    async def stream(self, request: TextRequest) -> AsyncIterator[TextDelta]:
        text = compose(request.brief)
        pieces = word_pieces(text)
        if request.max_tokens is not None:
            pieces = pieces[: request.max_tokens]
        interval_s = 1.0 / self.tokens_per_s if self.tokens_per_s else 0.0
        for piece in pieces:
            # Even at full speed each token is a separate wake-up, as tokens
            # read from a network stream would be.
            await asyncio.sleep(interval_s)
            yield TextDelta(text=piece)
        prompt_tokens = sum(len(word_pieces(m.content)) for m in request.messages)
        yield TextDelta(usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(pieces)))


class LocalImageProvider:
    """Draws the topic in the centre with its key terms around it (SVG)."""

    width = 640
    height = 480

    @property
    def name(self) -> str:
        return LOCAL_PROVIDER_NAME

    def render_svg(self, request: ImageRequest) -> str:
        topic = request.topic or request.description
        terms = list(request.key_terms) or key_terms(request.description, limit=6)
        terms = [t for t in terms if t.lower() != topic.lower()][:6]
        cx, cy, r = self.width / 2, self.height / 2 + 10, 170
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            'font-family="sans-serif" role="img">',
            f"<title>{escape(request.description)}</title>",
            f'<rect width="{self.width}" height="{self.height}" fill="#ffffff"/>',
        ]
        nodes = []
        for i, term in enumerate(terms):
            angle = -math.pi / 2 + 2 * math.pi * i / max(len(terms), 1)
            x, y = cx + r * math.cos(angle), cy + r * 0.75 * math.sin(angle)
            parts.append(
                f'<line x1="{cx:.0f}" y1="{cy:.0f}" x2="{x:.0f}" y2="{y:.0f}" '
                'stroke="#7a8aa0" stroke-width="2"/>'
            )
            nodes.append(
                f'<ellipse cx="{x:.0f}" cy="{y:.0f}" rx="70" ry="26" fill="#e8f0fb" '
                f'stroke="#3b6ea8"/><text x="{x:.0f}" y="{y + 5:.0f}" font-size="15" '
                f'text-anchor="middle">{escape(term)}</text>'
            )
        parts += nodes
        parts.append(
            f'<ellipse cx="{cx:.0f}" cy="{cy:.0f}" rx="110" ry="40" fill="#fff4d6" '
            f'stroke="#b8860b" stroke-width="2"/><text x="{cx:.0f}" y="{cy + 6:.0f}" '
            f'font-size="20" font-weight="bold" text-anchor="middle">{escape(topic[:40])}</text>'
        )
        parts.append(
            f'<text x="{self.width / 2:.0f}" y="{self.height - 12}" font-size="12" '
            'fill="#666" text-anchor="middle">Concept diagram drawn by the local composer '
            "(not AI-generated)</text></svg>"
        )
        return "".join(parts)

    async def generate(self, request: ImageRequest) -> ImageResult:
        svg = self.render_svg(request)
        data = base64.b64encode(svg.encode()).decode()
        return ImageResult(
            provider=self.name,
            mime="image/svg+xml",
            data=f"data:image/svg+xml;base64,{data}",
            alt=f"Concept diagram: {request.topic or request.description}",
            metadata={"svg": svg},
        )
