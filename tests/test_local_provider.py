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


async def test_lesson_without_material_is_honest_and_invents_no_keywords() -> None:
    pieces, usage = await text_of(lesson(topic="Photosynthesis"))
    text = "".join(pieces)
    assert text.startswith("# Photosynthesis\n")
    assert "local composer" in text and "no AI model" in text
    assert "Add a reading" in text and "states no facts about Photosynthesis" in text
    assert "Level: intermediate, grade 7." in text  # the session's grade, as given
    # The prompt's words are not passed off as the subject's key words.
    assert "key word" not in text.lower() and "sunlight" not in text and "sugar" not in text
    assert usage.completion_tokens == len(pieces) > 50
    assert LocalTextProvider().name == "local-composer"


async def test_grade_is_shown_as_the_session_states_it() -> None:
    req = build_text_request(
        parse_content_request({"kind": "lesson", "prompt": "Photosynthesis"}),
        parse_context({"grade": "Year 8"}),
    )
    text = "".join((await text_of(req))[0])
    assert "Level: intermediate, Year 8." in text and "grade 7" not in text


async def test_lesson_differs_between_topics() -> None:
    a, _ = await text_of(lesson(topic="Photosynthesis"))
    b, _ = await text_of(lesson(topic="Volcanoes", prompt="Explain why volcanoes erupt"))
    assert "".join(a) != "".join(b)
    assert "Volcanoes" in "".join(b) and "Volcanoes" not in "".join(a)


async def test_level_follows_difficulty() -> None:
    easy = "".join((await text_of(lesson(topic="Photosynthesis", difficulty="beginner")))[0])
    hard = "".join((await text_of(lesson(topic="Photosynthesis", difficulty="advanced")))[0])
    assert "Level: beginner" in easy and "Level: advanced" in hard


async def test_activity_adapts_to_learning_style() -> None:
    visual = "".join((await text_of(lesson(learning_style="visual")))[0])
    kinesthetic = "".join((await text_of(lesson(learning_style="kinesthetic")))[0])
    assert "concept map" in visual and "concept map" not in kinesthetic
    assert "card" in kinesthetic


async def test_math_topic_without_material_states_no_worked_facts() -> None:
    req = build_text_request(
        parse_content_request(
            {"kind": "lesson", "prompt": "Adding fractions with unlike denominators"}
        ),
        parse_context({"subject": "Math"}),
    )
    text = "".join((await text_of(req))[0])
    assert "=" not in text  # no canned arithmetic passed off as a lesson
    assert "Add a reading" in text


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
    assert "states no facts about Fractions" in text
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
