"""Embedded providers that need no network and no model.

:class:`LocalTextProvider` streams the local composer's text in word pieces
at a configurable pace; :class:`LocalImageProvider` draws the requested
subject as an SVG concept map or process/timeline diagram (:mod:`.diagram`).
Both name themselves ``local-composer`` so nobody mistakes their output for
a model's.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator

from rtc_server.ai.provider import ImageRequest, ImageResult, TextDelta, TextRequest, Usage

from .diagram import HEIGHT, WIDTH, concept_map_svg, cooccurrence, matching_sequence, sequence_svg
from .framing import material_source
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
        if request.brief.grounding is not None:
            # Teaching from a long reading takes milliseconds of CPU (summary, questions):
            # off the event loop, which is busy streaming to the class meanwhile.
            text = await asyncio.to_thread(compose, request.brief)
        else:
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
    """Draws the requested subject as SVG: a concept map, or the material's steps.

    With material that matches the request (``request.grounding``), the
    labels are the material's key terms for it and the lines between them
    its co-occurrences; a matching passage that is a sequence becomes a
    process or timeline diagram.  Without, the labels are the request's own
    words.  The subject is always the request's (``request.topic``, set from
    the description), never another topic.
    """

    width = WIDTH
    height = HEIGHT

    @property
    def name(self) -> str:
        return LOCAL_PROVIDER_NAME

    def render_svg(self, request: ImageRequest) -> str:
        subject = request.topic or request.description
        grounding = request.grounding
        source = ""
        if grounding is not None:
            source = " from " + material_source("en", grounding.index.title)
        footer = f"Drawn by the local composer{source} (not AI-generated)"
        if grounding is not None:
            sequence = matching_sequence(grounding, request.description)
            if sequence is not None:
                kind, steps = sequence
                return sequence_svg(kind, subject, steps, grounding, request.description,
                                    footer.replace("Drawn", f"{kind.capitalize()} drawn"))
        labels = [t for t in request.key_terms if t.casefold() != subject.casefold()]
        if not labels:
            labels = [t for t in key_terms(request.description, limit=6)
                      if t.casefold() not in subject.casefold()]
        links = cooccurrence(grounding, labels) if grounding is not None else None
        return concept_map_svg(subject, labels[:6], request.description,
                               footer.replace("Drawn", "Concept diagram drawn"), links)

    async def generate(self, request: ImageRequest) -> ImageResult:
        svg = self.render_svg(request)
        data = base64.b64encode(svg.encode()).decode()
        return ImageResult(
            provider=self.name,
            mime="image/svg+xml",
            data=f"data:image/svg+xml;base64,{data}",
            alt=f"Diagram: {request.topic or request.description}",
            metadata={"svg": svg},
        )
