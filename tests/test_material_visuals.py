"""Local visuals are about what was asked: the material's terms for that subject."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from rtc_server.base.protocol import EventType
from rtc_server.content import (
    ContentCache,
    ContentService,
    Destination,
    LocalImageProvider,
    LocalTextProvider,
)
from rtc_server.content.visuals import visual_subject
from rtc_server.material import Material, extract_material, material_from_text
from tests.support.material_pdfs import fixture_text

SVG_NS = "{http://www.w3.org/2000/svg}"
# The session's current topic is NOT what the visual is about.
CONTEXT = {"current_topic": "Photosynthesis"}


@pytest.fixture(scope="module")
def water() -> Material:
    return extract_material(fixture_text("water_cycle.md").encode(), filename="w.md",
                            material_id="w", created_at=0.0)


@pytest.fixture(scope="module")
def korean() -> Material:
    return extract_material(fixture_text("photosynthesis_ko.md").encode(), filename="k.md",
                            material_id="k", created_at=0.0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, audience: Destination, type: EventType,
                       payload: dict[str, Any]) -> None:
        self.events.append((type.name, payload))


async def draw(description: str, material: list[Material]) -> tuple[str, list[str]]:
    """The SVG and its text lines, parsed (which also proves it is well-formed XML)."""
    service = ContentService(LocalTextProvider(tokens_per_s=0), LocalImageProvider(),
                             ContentCache.build(memory_entries=8), Recorder())
    result = await service.generate_visual("s1", {"kind": "visual", "description": description},
                                           Destination.session("s1"), context=CONTEXT,
                                           material=material)
    await service.close()
    assert result.outcome == "done" and result.mime == "image/svg+xml"
    svg = base64.b64decode(result.data.split(",", 1)[1]).decode()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    # One entry per line of text (a wrapped label is several tspans).
    texts = []
    for text in root.iter(f"{SVG_NS}text"):
        spans = list(text.iter(f"{SVG_NS}tspan"))
        texts += [s.text or "" for s in spans] if spans else ["".join(text.itertext())]
    return svg, texts


@pytest.mark.parametrize(
    ("description", "subject"),
    [
        ("the water cycle", "water cycle"),
        ("A labelled diagram of the water cycle, showing evaporation", "water cycle"),
        ("evaporation and condensation", "evaporation and condensation"),
        ("Timeline of the French Revolution", "French Revolution"),
        ("물의 순환 과정을 그림으로 보여줘", "물의 순환 과정"),
    ],
)
def test_subject_comes_from_the_description(description: str, subject: str) -> None:
    assert visual_subject(description) == subject


async def test_water_cycle_request_draws_water_cycle_terms(water: Material) -> None:
    svg, texts = await draw("What happens in condensation and precipitation", [water])
    joined = " ".join(texts)
    assert "Photosynthesis" not in svg  # the session's topic does not hijack the picture
    assert texts[-1].startswith("Concept diagram drawn by the local composer")
    assert "not AI-generated" in texts[-1]
    assert "condensation and precipitation" in joined  # the subject, on two lines
    terms = {"clouds", "droplets", "water vapor", "air", "rain", "snow"}
    assert len(terms & {t.strip() for t in texts}) >= 3, texts
    # Lines between labels for terms the material uses in the same sentence.
    assert 'stroke-dasharray="6 4"' in svg


async def test_steps_in_the_material_become_a_process_diagram(water: Material) -> None:
    svg, texts = await draw("the steps of the water cycle in order", [water])
    assert texts[0] == "water cycle"
    assert [t for t in texts if t.isdigit()] == ["1", "2", "3", "4", "5"]
    boxes = " ".join(texts)
    for term in ("evaporation", "condensation", "precipitation", "runoff"):
        assert term in boxes
    assert 'marker-end="url(#arrow)"' in svg
    assert texts[-1].startswith("Process drawn by the local composer")


async def test_dates_become_a_timeline() -> None:
    history = material_from_text(
        "# Dams on the river\n\nThe first dam on the river was finished in 1902 by the town. "
        "A second, larger dam followed in 1936 after the great flood. The third dam opened in "
        "1961 and made the reservoir that supplies the city today.",
        kind="markdown", material_id="h", created_at=0.0)
    _, texts = await draw("history of the dams on the river", [history])
    assert [t for t in texts if t.isdigit()] == ["1902", "1936", "1961"]


async def test_korean_material_draws_hangul_labels(korean: Material) -> None:
    svg, texts = await draw("광합성이 일어나는 곳", [korean])
    labels = {t.strip() for t in texts}
    assert "광합성" in labels
    assert {"엽록체", "엽록소", "잎"} <= labels
    assert "Noto Sans CJK KR" in svg


async def test_without_material_the_request_words_are_drawn() -> None:
    _, texts = await draw("the water cycle: evaporation, condensation, precipitation", [])
    assert texts[0] == "water cycle" or "water cycle" in texts
    assert {"evaporation", "condensation", "precipitation"} <= {t.strip() for t in texts}
    assert not any("Photosynthesis" in t for t in texts)


async def test_text_is_escaped(water: Material) -> None:
    svg, texts = await draw('rain & "snow" <script>alert(1)</script>', [water])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert any("rain" in t for t in texts)


async def test_long_labels_wrap_within_their_shapes() -> None:
    _, texts = await draw("photosynthesisandrespirationinaverylongcompoundword cells", [])
    assert all(len(line) <= 21 for line in texts[:-1])
    assert any(line.endswith("…") for line in texts)


async def test_visual_cache_key_follows_the_material(water: Material) -> None:
    other = material_from_text(
        "Clouds form when water vapor cools. Volcanoes also release water vapor into clouds.",
        material_id="v", created_at=0.0)
    service = ContentService(LocalTextProvider(tokens_per_s=0), LocalImageProvider(),
                             ContentCache.build(memory_entries=8), Recorder())
    request = {"kind": "visual", "description": "how clouds form"}
    room = Destination.session("s1")
    first = await service.generate_visual("s1", request, room, material=[water])
    again = await service.generate_visual("s1", request, room, material=[water])
    changed = await service.generate_visual("s1", request, room, material=[other])
    await service.close()
    assert again.cached and again.data == first.data
    assert not changed.cached and changed.data != first.data
    assert "volcano" in base64.b64decode(changed.data.split(",", 1)[1]).decode().lower()
