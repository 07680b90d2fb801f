"""What is made from a material: key terms, ranking, summary, outline, questions, hints."""

from __future__ import annotations

import re

import pytest

from rtc_server.material import (
    BLANK,
    Material,
    MaterialIndex,
    MaterialIndexCache,
    build_index,
    cited_labels,
    extract_material,
    find_sequence,
    hint_plan,
    make_questions,
    material_from_text,
    outline,
    section_citations,
    sources,
    summarise,
)
from rtc_server.material.stopwords import ENGLISH_STOP, KOREAN_STOP
from tests.support.material_pdfs import fixture_text

# Words no one would call a key term, whatever the list in the code says.
STOP_WORDS = {"the", "and", "is", "of", "that", "by", "also", "which", "between", "into",
              "this", "they", "water's", "most", "about", "called", "before", "can"}
PARTICLES = {"은", "는", "이", "가", "을", "를", "의", "에", "에서", "으로", "로", "와", "과", "도"}


def material(name: str, material_id: str = "m1") -> Material:
    return extract_material(fixture_text(name).encode(), filename=name, material_id=material_id,
                            created_at=0.0)


@pytest.fixture(scope="module")
def water() -> MaterialIndex:
    return build_index([material("water_cycle.md")])


@pytest.fixture(scope="module")
def korean() -> MaterialIndex:
    return build_index([material("photosynthesis_ko.md")])


def test_english_key_terms_are_the_central_terms(water: MaterialIndex) -> None:
    top = [t.label for t in water.key_terms[:12]]
    for central in ("water cycle", "evaporation", "condensation", "precipitation"):
        assert central in top, top
    assert "water vapor" in [t.label for t in water.key_terms[:20]]
    every = {w for t in water.key_terms for w in t.label.lower().split()}
    assert not every & (STOP_WORDS | ENGLISH_STOP)
    # A word used mostly inside a phrase gives way to the phrase.
    assert "cycle" not in top and "vapor" not in top


def test_korean_key_terms_are_real_words_not_particles(korean: MaterialIndex) -> None:
    labels = [t.label for t in korean.key_terms[:15]]
    for central in ("광합성", "엽록체", "엽록소", "이산화탄소", "포도당", "기공"):
        assert central in labels, labels
    assert labels[0] == "광합성"
    for label in labels:
        assert not any(label.endswith(p) and label[: -len(p)] in labels for p in PARTICLES)
        assert label not in KOREAN_STOP
        assert not label.endswith(("다", "는", "한"))  # no verbs or adnominal forms


def test_bm25_puts_the_passage_about_the_query_first(water: MaterialIndex) -> None:
    hits = water.search("what happens in condensation when vapor cools", 3)
    assert water.passages[hits[0].index].heading == "Condensation"
    assert water.search("volcano magma", 3) == []


def test_korean_search_matches_inflected_words(korean: MaterialIndex) -> None:
    hits = korean.search("엽록체가 하는 일", 2)
    assert korean.passages[hits[0].index].heading == "광합성이 일어나는 곳"


def test_summary_sentences_are_the_material_word_for_word(water: MaterialIndex) -> None:
    sentences = water.sentences
    picked = summarise([s.text for s in sentences], [s.terms for s in sentences],
                       [s.position for s in sentences], count=4)
    assert len(picked) == 4 and picked == sorted(picked)
    text = fixture_text("water_cycle.md")
    for i in picked:
        assert sentences[i].text in text
    assert any("Evaporation is the process" in sentences[i].text for i in picked)


def test_outline_follows_the_headings(water: MaterialIndex) -> None:
    sections = outline(water)
    titles = [s.title for s in sections]
    assert titles == ["The Water Cycle", "Energy from the Sun", "Evaporation", "Condensation",
                      "Precipitation", "Collection and Runoff", "The Cycle in Order"]
    evaporation = sections[2]
    assert len(evaporation.passages) == 2 and evaporation.lead is not None


def test_outline_without_headings_names_parts_by_their_terms() -> None:
    paragraphs = [
        "Glaciers store frozen water for centuries. Glaciers move slowly downhill under their "
        "own weight, and a glacier carves valleys as it moves. Glaciers melt in warm summers.",
    ] * 3 + [
        "Aquifers hold groundwater in the pores of rock. Wells reach aquifers to bring the "
        "groundwater up, and aquifers refill slowly when rain soaks into the ground above them.",
    ] * 3
    text = "\n\n".join(f"{p} (part {i})" for i, p in enumerate(paragraphs))
    index = build_index([material_from_text(text)])
    sections = outline(index)
    assert [s.passages for s in sections] == [(0, 1, 2), (3, 4, 5)]
    assert not any(s.from_heading for s in sections)
    assert "glacier" in sections[0].title.lower() and "aquifer" in sections[1].title.lower()


def test_sequence_detection(water: MaterialIndex) -> None:
    steps_passage = next(i for i, p in enumerate(water.passages) if p.heading ==
                         "The Cycle in Order")
    kind, steps = find_sequence(water, steps_passage)
    assert kind == "process" and len(steps) == 5
    assert steps[0].text == "The Sun heats water in oceans, lakes and rivers."
    assert find_sequence(water, 0) is None
    dated = build_index([material_from_text(
        "The first dam was finished in 1902. A second one followed in 1936. "
        "The third opened in 1961 after the flood."
    )])
    kind, steps = find_sequence(dated, 0)
    assert kind == "timeline" and [s.marker for s in steps] == ["1902", "1936", "1961"]


def test_questions_answers_are_in_the_passage_and_distractors_are_key_terms(
    water: MaterialIndex,
) -> None:
    questions = make_questions(water, range(len(water.passages)), count=6)
    assert len(questions) == 6
    assert {q.kind for q in questions} == {"blank", "choice"}
    terms = {t.label for t in water.key_terms}
    for q in questions:
        passage = water.passage(q.source)
        assert passage is not None and q.sentence in passage.text
        assert q.answer in q.sentence and BLANK in q.prompt
        assert q.prompt.replace(BLANK, q.answer, 1).startswith(q.sentence[:10])
        if q.kind == "choice":
            assert len(q.choices) == 4 and len(set(q.choices)) == 4
            assert q.choices[q.correct].lower() == q.answer.lower()
            distractors = [c for i, c in enumerate(q.choices) if i != q.correct]
            assert set(distractors) <= terms
            # A distractor never sits in the sentence (that would make it right too).
            assert not any(re.search(rf"\b{re.escape(d)}\b", q.sentence, re.I)
                           for d in distractors)
    # Definitions come first: "Evaporation is the process ..." is asked about.
    assert any(q.answer == "Evaporation" for q in questions)


def test_korean_questions_blank_the_word_and_keep_the_particle(korean: MaterialIndex) -> None:
    questions = make_questions(korean, range(len(korean.passages)), count=4)
    assert questions
    first = questions[0]
    assert first.answer == "광합성" and first.prompt.startswith(f"{BLANK}은 ")
    for q in questions:
        assert q.answer in q.sentence
        assert q.answer not in q.prompt.split(BLANK)[0][-1:]  # not half-blanked


def test_hint_plan_quotes_the_sentence_with_the_answer_blanked(korean: MaterialIndex) -> None:
    plan = hint_plan(korean, "광합성이 일어나는 세포 속 기관은?", "엽록체")
    assert plan is not None
    assert plan.source == "p2" and plan.heading == "광합성이 일어나는 곳"
    assert plan.quote == f"광합성은 주로 잎의 세포 속에 있는 {BLANK}에서 일어난다."
    assert hint_plan(korean, "volcano?", "magma") is None


def test_citations_are_read_back_and_unknown_ids_reported(water: MaterialIndex) -> None:
    text = "## Summary\nEvaporation is a process [p3]. Rain falls [p6, p3].\n## Extra\nMade up [p99]."
    assert cited_labels(text) == ["p3", "p6", "p99"]
    known, unknown = sources(text, water)
    assert [s["id"] for s in known] == ["p3", "p6"] and unknown == ["p99"]
    assert known[0]["material_id"] == "m1" and known[0]["heading"] == "Evaporation"
    assert section_citations(text, water) == [{"heading": "Summary", "sources": ["p3", "p6"]}]


def test_several_materials_are_numbered_on_and_resolve_to_their_own() -> None:
    a, b = material("water_cycle.md", "a"), material("photosynthesis_ko.md", "b")
    index = build_index([a, b])
    count_a = len(build_index([a]).passages)
    first_b = index.passages[count_a]
    assert first_b.label == f"p{count_a + 1}" and first_b.passage.id == "p1"
    assert index.source(first_b.label)["material_id"] == "b"
    assert index.language == "en"  # the longer text


async def test_index_cache_builds_once_per_material_list() -> None:
    cache = MaterialIndexCache(max_entries=2)
    a, b = material("water_cycle.md", "a"), material("photosynthesis_ko.md", "b")
    first = await cache.index([a])
    assert await cache.index([a]) is first and cache.builds == 1
    await cache.index([a, b])
    await cache.index([b])
    assert cache.builds == 3 and len(cache) == 2
    assert await cache.index([a]) is not first  # evicted, built again
