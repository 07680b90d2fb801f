"""The local composer teaching from material (and saying plainly when there is none)."""

from __future__ import annotations

import re

import pytest

from rtc_server.content import parse_content_request
from rtc_server.content.grounded_composer import material_hints
from rtc_server.content.local_composer import compose
from rtc_server.content.prompts import build_text_request, retrieval_query
from rtc_server.content.requests import parse_context
from rtc_server.material import (
    BLANK,
    MaterialIndex,
    build_index,
    cited_labels,
    extract_material,
    ground,
)
from tests.support.material_pdfs import fixture_text

WATER_TEXT = fixture_text("water_cycle.md")
KOREAN_TEXT = fixture_text("photosynthesis_ko.md")
CITATION = re.compile(r"\s\[p\d+(?:, p\d+)*\]$")


@pytest.fixture(scope="module")
def water() -> MaterialIndex:
    return build_index([extract_material(WATER_TEXT.encode(), filename="water_cycle.md",
                                         material_id="w", created_at=0.0)])


@pytest.fixture(scope="module")
def korean() -> MaterialIndex:
    return build_index([extract_material(KOREAN_TEXT.encode(), filename="ko.md",
                                         material_id="k", created_at=0.0)])


def composed(index: MaterialIndex | None, data: dict, context: dict | None = None) -> str:
    request = parse_content_request(data)
    ctx = parse_context(context or {"grade": "Year 8"})
    grounding = ground(index, retrieval_query(request, ctx)) if index is not None else None
    return compose(build_text_request(request, ctx, grounding=grounding).brief)


def section(text: str, heading: str) -> list[str]:
    lines = text.split("\n")
    start = lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [ln for ln in lines[start:end] if ln.strip()]


def material_sentences(text: str) -> str:
    """The fixture with Markdown list markers and line breaks flattened, for 'is it quoted'."""
    return re.sub(r"\s+", " ", re.sub(r"^\s*(?:\d+\.|-)\s+", "", text, flags=re.M))


def test_lesson_from_material_quotes_and_cites_it(water: MaterialIndex) -> None:
    text = composed(water, {"kind": "lesson", "prompt": "Teach the water cycle",
                            "topic": "The water cycle"})
    assert text.startswith("# The water cycle\n")
    assert "local composer" in text and "no AI model" in text
    assert "Level: intermediate, Year 8." in text
    flat = material_sentences(WATER_TEXT)
    summary = section(text, "Summary")
    assert len(summary) == 4
    for line in summary:  # every summary line is a sentence of the material plus its citation
        assert CITATION.search(line)
        assert CITATION.sub("", line).removeprefix("- ") in flat
    terms = section(text, "Key terms")
    labels = [re.match(r"- \*\*(.+?)\*\*", ln).group(1) for ln in terms]
    assert {"evaporation", "water cycle"} <= set(labels)
    for line in terms:
        quoted = re.search(r"“(.+)”", line).group(1)
        assert quoted in flat and CITATION.search(line)
    # The reading lists its steps, so the worked example walks through them.
    example = section(text, "Worked example")
    assert example[1] == "1. The Sun heats water in oceans, lakes and rivers."
    assert set(cited_labels(text)) <= {p.label for p in water.passages}


def test_lesson_questions_have_answers_from_the_passages(water: MaterialIndex) -> None:
    text = composed(water, {"kind": "lesson", "prompt": "evaporation and condensation",
                            "topic": "Evaporation and condensation"})
    questions = [ln for ln in section(text, "Try it") if re.match(r"\d+\. ", ln)]
    answers = section(text, "Answers")
    assert len(questions) == len(answers) == 4
    for question, answer in zip(questions, answers, strict=True):
        label = cited_labels(question)[-1]
        word = re.sub(r"^\d+\. (?:[A-D]\) )?", "", answer)
        assert BLANK in question
        assert word.lower() in water.passage(label).text.lower()


def test_beginner_gets_a_word_bank_and_advanced_a_linking_question(water: MaterialIndex) -> None:
    data = {"kind": "lesson", "prompt": "the water cycle", "topic": "The water cycle"}
    easy = composed(water, {**data, "difficulty": "beginner"})
    hard = composed(water, {**data, "difficulty": "advanced"})
    assert "Word bank:" in easy and "Word bank:" not in hard
    assert "are connected; use passage [p" in hard
    assert len(section(easy, "Summary")) < len(section(hard, "Summary"))


def test_topic_not_in_material_is_said_and_nothing_invented(water: MaterialIndex) -> None:
    text = composed(water, {"kind": "lesson", "prompt": "Photosynthesis",
                            "topic": "Photosynthesis"})
    assert "“Photosynthesis” does not appear in the material" in text
    assert "chlorophyll" not in text.lower() and "sugar" not in text.lower()
    assert "## Summary" in text  # what the material does cover


def test_no_material_says_what_it_can_do() -> None:
    text = composed(None, {"kind": "lesson", "prompt": "Explain how plants make sugar",
                           "topic": "Photosynthesis"})
    assert "Add a reading" in text and "states no facts about Photosynthesis" in text
    assert "## Key terms" not in text and "[p" not in text
    assert "sugar" not in text and "plants" not in text


def test_korean_material_gets_korean_framing(korean: MaterialIndex) -> None:
    text = composed(korean, {"kind": "lesson", "prompt": "광합성을 가르쳐 주세요",
                             "topic": "광합성"}, {"grade": 8})
    assert "## 요약" in text and "## 핵심 용어" in text and "## 정답" in text
    assert "수준: 중급, 8학년." in text
    assert "local composer" in text  # still honestly labelled
    summary = section(text, "요약")
    assert summary and all(CITATION.search(ln) for ln in summary)
    assert any("광합성은 식물이 빛에너지를 이용하여" in ln for ln in summary)
    assert "빈칸에 알맞은" in text and BLANK in text
    assert "Summary" not in text and "Fill in the blank" not in text


def test_session_language_wins_over_the_material(korean: MaterialIndex) -> None:
    text = composed(korean, {"kind": "lesson", "prompt": "광합성", "topic": "광합성"},
                    {"language": "en"})
    assert "## Summary" in text and "광합성은 식물이" in text  # English framing, Korean quotes


def test_plan_from_material_fills_each_planned_section(water: MaterialIndex) -> None:
    text = composed(water, {"kind": "plan", "topic": "The water cycle", "minutes_remaining": 20,
                            "responses": [{"correct": False}, {"correct": False},
                                          {"correct": True}]})
    headings = re.findall(r"^## (\d+)\. (.+) \((\d+) min\)$", text, re.M)
    assert [h[1] for h in headings][:2] == ["Review the basics", "Guided practice, step by step"]
    assert sum(int(h[2]) for h in headings) <= 20
    for part in re.split(r"^## \d+\. .+$", text, flags=re.M)[1:]:
        assert cited_labels(part), part  # every section works from the material
    assert "slows down" in text


def test_supplement_quotes_the_passage_the_class_needs(water: MaterialIndex) -> None:
    text = composed(water, {"kind": "supplement", "trigger": "wrong_answers",
                            "details": "students mixed up condensation and evaporation",
                            "affected_users": ["ann"], "topic": "condensation"})
    says = section(text, "What the reading says")
    assert says and all(CITATION.search(ln) for ln in says)
    check = section(text, "Quick check")
    question, hint = check[0], check[-1]
    prompt = re.sub(r"^1\. Choose the word that fits: | \[p\d+\]$", "", question)
    assert BLANK in prompt and re.search(r"\bp\d+\b", hint)
    assert prompt not in hint  # a hint that repeats the question is no hint


def test_adapt_rewrites_only_the_given_text() -> None:
    source = ("Evaporation is the process by which liquid water changes into water vapor. "
              "Condensation is the process by which water vapor cools into droplets. "
              "Precipitation is water that falls from clouds.")
    text = composed(None, {"kind": "adapt", "text": source, "target_difficulty": 1})
    assert "## In short" in text and "## Words to know" in text
    for line in section(text, "The text, one sentence at a time"):
        assert line.removeprefix("- ") in source
    assert "[p" not in text


def test_hints_quote_the_passage_and_name_it(water: MaterialIndex, korean: MaterialIndex) -> None:
    hints = material_hints(water, "What is water that falls from clouds called?",
                           "precipitation", "en")
    # The heading names the answer: the gentlest hint must not give it away.
    assert hints[0] == "Read passage p6 again."
    assert hints[1] == f"It says: “{BLANK} is water that falls from clouds as rain, snow, sleet " \
                       "or hail.” [p6]"
    assert hints[2] == "The answer starts with “P”."
    ko = material_hints(korean, "식물이 이산화탄소를 받아들이는 구멍은?", "기공", "ko")
    assert ko[0].startswith("문단 p3")
    assert BLANK in ko[1] and "기공" not in ko[1] and ko[1].endswith("[p3]")
    assert material_hints(water, "Who won the war?", "nobody", "en") == []


def test_composing_is_deterministic(water: MaterialIndex) -> None:
    data = {"kind": "lesson", "prompt": "the water cycle"}
    assert composed(water, data) == composed(water, data)
