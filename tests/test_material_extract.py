"""Extraction of text, Markdown and PDF into Material, and the errors for bad files."""

from __future__ import annotations

import json
import unicodedata

import pytest

from rtc_server.content.exceptions import (
    MaterialEncrypted,
    MaterialError,
    MaterialNoText,
    MaterialNotPdf,
    MaterialNotUtf8,
    MaterialTooLarge,
    MaterialUnsupported,
)
from rtc_server.material import (
    Material,
    extract_material,
    material_from_text,
    split_passages,
    split_sentences,
)
from tests.support.material_pdfs import blank_pdf, encrypted_pdf, fixture_text, markdown_pdf

WATER = fixture_text("water_cycle.md")
KOREAN = fixture_text("photosynthesis_ko.md")


def test_markdown_file_keeps_title_headings_and_language() -> None:
    material = extract_material(WATER.encode(), filename="water_cycle.md", created_at=5.0)
    assert material.kind == "markdown"
    assert material.title == "The Water Cycle"
    assert material.language == "en"
    assert material.size == len(WATER.encode())
    assert material.pages == 1 and material.created_at == 5.0
    passages = split_passages(material)
    assert [p.id for p in passages] == [f"p{i}" for i in range(1, len(passages) + 1)]
    headings = {p.heading for p in passages}
    assert {"Evaporation", "Condensation", "Precipitation"} <= headings
    # Markdown markup is gone from passage text, list items stay one per line.
    assert not any("#" in p.text or "**" in p.text for p in passages)
    steps = next(p for p in passages if p.heading == "The Cycle in Order")
    assert "\n1. The Sun heats water" in steps.text


def test_korean_markdown_is_detected_as_korean() -> None:
    material = extract_material(KOREAN.encode(), filename="광합성.md")
    assert material.language == "ko"
    assert material.title == "광합성"
    assert any(p.heading == "광합성이 일어나는 곳" for p in split_passages(material))


def test_decomposed_hangul_is_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "광합성은 엽록체에서 일어난다.")
    assert decomposed != "광합성은 엽록체에서 일어난다."
    material = material_from_text(decomposed)
    assert material.text == "광합성은 엽록체에서 일어난다."


def test_pdf_pages_become_page_numbers_of_passages() -> None:
    text = WATER.replace("## Condensation", "\f## Condensation")
    material = extract_material(markdown_pdf(text, title="Water reading"), filename="w.pdf")
    assert material.kind == "pdf" and material.pages == 2
    assert material.title == "Water reading"
    passages = split_passages(material)
    by_heading = {p.heading: p for p in reversed(passages)}  # first passage per heading
    assert by_heading["Evaporation"].page == 1
    assert by_heading["Condensation"].page == 2
    assert by_heading["Condensation"].text.startswith("As warm, moist air rises")
    # Wrapped lines are joined back into sentences.
    sentences = split_sentences(by_heading["Evaporation"].text)
    assert sentences[0] == (
        "Evaporation is the process by which liquid water changes into water vapor, "
        "an invisible gas."
    )


def test_pdf_sniffed_without_a_name() -> None:
    material = extract_material(markdown_pdf("Plain words on a page."))
    assert material.kind == "pdf" and "Plain words on a page." in material.text


def test_material_round_trips_through_json() -> None:
    material = extract_material(WATER.encode(), filename="water_cycle.md", material_id="m1")
    back = Material.from_dict(json.loads(json.dumps(material.as_dict())))
    assert back == material and back.digest == material.digest
    assert "text" not in material.info() and material.info()["chars"] == len(material.text)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "code"),
    [
        (b"%PDF-1.7 not really", {"filename": "x.pdf"}, MaterialNotPdf, "material_not_pdf"),
        (b"just text", {"filename": "notes.pdf"}, MaterialNotPdf, "material_not_pdf"),
        (b"\xff\xfeh\x00i\x00", {"filename": "notes.txt"}, MaterialNotUtf8, "material_not_utf8"),
        (b"x" * 101, {"filename": "big.txt", "max_bytes": 100}, MaterialTooLarge,
         "material_too_large"),
        (b"PK\x03\x04", {"filename": "essay.docx"}, MaterialUnsupported, "material_unsupported"),
        (b"\x89PNG", {"content_type": "image/png"}, MaterialUnsupported, "material_unsupported"),
        (b"   \n\n  ", {"filename": "empty.md"}, MaterialNoText, "material_no_text"),
    ],
)
def test_bad_files_get_their_error_codes(data, kwargs, error, code) -> None:
    with pytest.raises(error) as info:
        extract_material(data, **kwargs)
    assert isinstance(info.value, MaterialError)
    assert info.value.code == code
    if kwargs.get("filename"):
        assert info.value.filename == kwargs["filename"]


def test_encrypted_pdf_is_refused() -> None:
    locked = encrypted_pdf(markdown_pdf("Secret notes about rivers."))
    with pytest.raises(MaterialEncrypted) as info:
        extract_material(locked, filename="locked.pdf")
    assert info.value.code == "material_encrypted"


def test_pdf_without_text_is_refused() -> None:
    with pytest.raises(MaterialNoText) as info:
        extract_material(blank_pdf(), filename="scan.pdf")
    assert "no extractable text" in info.value.message


def test_too_many_pages_is_refused() -> None:
    three = markdown_pdf("One.\fTwo.\fThree.")
    with pytest.raises(MaterialTooLarge) as info:
        extract_material(three, filename="t.pdf", max_pages=2)
    assert (info.value.size, info.value.limit) == (3, 2)
    assert "pages" in str(info.value)


def test_pasted_text_over_the_limit_is_refused() -> None:
    with pytest.raises(MaterialTooLarge) as info:
        material_from_text("가" * 50, max_bytes=100)  # 150 bytes of UTF-8
    assert info.value.size == 150


def test_passages_are_cut_and_packed_by_size() -> None:
    long = " ".join(f"Sentence number {i} talks about rivers and lakes." for i in range(60))
    short = "A short line.\n\nAnother short line.\n\nA third short line."
    material = material_from_text(f"{long}\n\n{short}")
    passages = split_passages(material, max_chars=400, min_chars=40)
    assert all(len(p.text) <= 400 for p in passages)
    assert passages[-1].text == "A short line.\nAnother short line.\nA third short line."
    # Cut at sentence boundaries: every passage ends a sentence.
    assert all(p.text.endswith(".") for p in passages)
