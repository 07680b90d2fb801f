"""LocalTextProvider / LocalImageProvider: honest, topic-specific, deterministic."""

from __future__ import annotations

import asyncio
import base64
import time

from rtc_server.ai.provider import ImageRequest
from rtc_server.content import LocalImageProvider, LocalTextProvider, parse_content_request
from rtc_server.content.local_provider import word_pieces
from rtc_server.content.prompts import build_text_request
from rtc_server.content.requests import parse_context

CTX = parse_context({"subject": "Biology", "grade": 7, "covered_topics": ["cells"]})


def lesson(**fields):
    data = {"kind": "lesson", "prompt": "Explain how plants make sugar from sunlight"}
    data.update(fields)
    return build_text_request(parse_content_request(data), CTX)


async def text_of(request, **kwargs) -> tuple[list[str], object]:
    provider = LocalTextProvider(tokens_per_s=0, **kwargs)
    pieces, usage = [], None
    async for delta in provider.stream(request):
        if delta.text:
            pieces.append(delta.text)
        if delta.usage is not None:
            usage = delta.usage
    return pieces, usage


async def test_lesson_is_topic_specific_markdown_and_honest() -> None:
    pieces, usage = await text_of(lesson(topic="Photosynthesis"))
    text = "".join(pieces)
    assert text.startswith("# Photosynthesis\n")
    assert "local composer" in text and "no AI model" in text
    for heading in ("## Key ideas", "## Worked example", "## Check for understanding"):
        assert heading in text
    assert "sunlight" in text and "sugar" in text
    assert "cells" in text  # builds on covered topics
    assert usage.completion_tokens == len(pieces) > 50
    assert LocalTextProvider().name == "local-composer"


async def test_lesson_differs_between_topics() -> None:
    a, _ = await text_of(lesson(topic="Photosynthesis"))
    b, _ = await text_of(
        lesson(topic="Volcanoes", prompt="Explain why volcanoes erupt and magma rises")
    )
    assert "".join(a) != "".join(b)
    assert "magma" in "".join(b) and "magma" not in "".join(a)


async def test_questions_adapt_to_difficulty() -> None:
    easy = "".join((await text_of(lesson(topic="Photosynthesis", difficulty="beginner")))[0])
    hard = "".join((await text_of(lesson(topic="Photosynthesis", difficulty="advanced")))[0])
    assert "In your own words, what is photosynthesis?" in easy
    assert "Justify" not in easy
    assert "Justify" in hard
    assert "Level: beginner" in easy and "Level: advanced" in hard


async def test_activity_adapts_to_learning_style() -> None:
    visual = "".join((await text_of(lesson(learning_style="visual")))[0])
    kinesthetic = "".join((await text_of(lesson(learning_style="kinesthetic")))[0])
    assert "concept map" in visual and "concept map" not in kinesthetic
    assert "objects or cards" in kinesthetic


async def test_math_topic_gets_a_real_worked_example() -> None:
    req = build_text_request(
        parse_content_request(
            {"kind": "lesson", "prompt": "Adding fractions with unlike denominators"}
        ),
        parse_context({"subject": "Math"}),
    )
    text = "".join((await text_of(req))[0])
    assert "2/4 + 1/4 = 3/4" in text


async def test_plan_low_understanding_reviews_and_fits_minutes() -> None:
    req = build_text_request(
        parse_content_request(
            {
                "kind": "plan",
                "topic": "Fractions",
                "minutes_remaining": 12,
                "responses": [
                    {"correct": False},
                    {"correct": False, "confidence": 0.9},
                    {"correct": True},
                ],
            }
        ),
        CTX,
    )
    text = "".join((await text_of(req))[0])
    assert "## 1. Review the basics" in text
    assert "slows down" in text
    assert sum(s.estimated_minutes for s in req.brief.sections) <= 12


async def test_output_is_deterministic() -> None:
    a, _ = await text_of(lesson(topic="Photosynthesis"))
    b, _ = await text_of(lesson(topic="Photosynthesis"))
    assert a == b


async def test_pace_follows_tokens_per_s() -> None:
    provider = LocalTextProvider(tokens_per_s=200)
    request = lesson(max_tokens=20)
    start = time.monotonic()
    count = 0
    async for delta in provider.stream(request):
        count += bool(delta.text)
    elapsed = time.monotonic() - start
    assert count == 20
    assert elapsed >= 20 / 200 * 0.9


async def test_cancelling_local_stream_stops_it() -> None:
    provider = LocalTextProvider(tokens_per_s=100)
    got = []

    async def consume() -> None:
        async for delta in provider.stream(lesson()):
            got.append(delta.text)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert 0 < len(got) < 20


def test_word_pieces_reassemble_and_split_long_words() -> None:
    text = "Photosynthesis turns light\n\ninto sugar."
    pieces = word_pieces(text)
    assert "".join(pieces) == text
    assert max(len(p.strip()) for p in pieces) <= 6


async def test_local_image_is_labelled_svg() -> None:
    result = await LocalImageProvider().generate(
        ImageRequest(description="chlorophyll absorbs sunlight in leaves", topic="Photosynthesis")
    )
    assert result.mime == "image/svg+xml"
    svg = base64.b64decode(result.data.split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    for label in ("Photosynthesis", "chlorophyll", "sunlight", "leaves", "not AI-generated"):
        assert label in svg
    assert result.provider == "local-composer"
