"""Tokenisation of English and Korean: stems, stop words, particles, bigrams."""

from __future__ import annotations

import pytest

from rtc_server.material.stopwords import ENGLISH_STOP, KOREAN_STOP
from rtc_server.material.tokens import (
    has_batchim,
    index_terms,
    s_stem,
    strip_josa,
    tokenize,
)


def content_terms(text: str) -> list[str]:
    return [t.term for t in tokenize(text) if t.content]


def test_english_is_lowercased_stemmed_and_stop_words_flagged() -> None:
    tokens = tokenize("The clouds form when Water's vapor cools over the oceans.")
    assert [t.term for t in tokens if t.content] == ["cloud", "form", "water", "vapor", "cool",
                                                     "ocean"]
    assert all(t.stop for t in tokens if t.term in ("the", "when", "over"))
    water = next(t for t in tokens if t.term == "water")
    assert water.surface == "Water" and not water.initial
    assert tokens[0].initial  # "The" opens the sentence


@pytest.mark.parametrize(
    ("word", "stem"),
    [("clouds", "cloud"), ("bodies", "body"), ("gases", "gase"), ("glass", "glass"),
     ("status", "status"), ("analysis", "analysis"), ("sea", "sea")],
)
def test_s_stemmer_only_undoes_plurals(word: str, stem: str) -> None:
    assert s_stem(word) == stem


def test_batchim() -> None:
    assert has_batchim("물") and has_batchim("성")
    assert not has_batchim("바") and not has_batchim("소")


@pytest.mark.parametrize(
    ("word", "stem", "particle"),
    [
        ("광합성은", "광합성", "은"),
        ("식물이", "식물", "이"),
        ("바다가", "바다", "가"),
        ("빛에너지를", "빛에너지", "를"),
        ("포도당을", "포도당", "을"),
        ("지구의", "지구", "의"),
        ("엽록체에서", "엽록체", "에서"),
        ("빛으로", "빛", "으로"),
        ("바다로", "바다", "로"),
        ("물로", "물", "로"),  # 로 also follows a final ㄹ
        ("물과", "물", "과"),
        ("산소와", "산소", "와"),
        ("잎까지", "잎", "까지"),
        ("과정이다", "과정", "이다"),
        ("나이", "나이", ""),  # 이 after a vowel is not the subject particle
        ("온도", "온도", ""),  # 도 needs two syllables left
        ("국가", "국가", ""),  # 가 after a final consonant is part of the word
        ("DNA는", "DNA", "는"),
    ],
)
def test_josa_stripping_follows_the_batchim_rule(word: str, stem: str, particle: str) -> None:
    assert strip_josa(word) == (stem, particle)


def test_korean_sentence_gives_real_words_and_marks_nouns() -> None:
    sentence = "광합성은 식물이 빛에너지를 이용하여 물과 이산화탄소로 포도당과 산소를 만드는 과정이다."
    tokens = tokenize(sentence)
    terms = [t.term for t in tokens]
    assert terms[:3] == ["광합성", "식물", "빛에너지"]
    assert {"물", "이산화탄소", "포도당", "산소", "과정"} <= set(terms)
    nouns = {t.term for t in tokens if t.noun}
    assert {"식물", "빛에너지", "물", "이산화탄소", "포도당", "산소", "과정"} <= nouns
    # Verbs never count as nouns, whatever their ending looks like.
    assert not {t.term for t in tokens if t.noun} & {"이용하여", "만드", "만드는"}


def test_korean_adnominal_endings_are_not_noun_evidence() -> None:
    tokens = tokenize("작은 구멍을 통해 들어온다. 먹을 때 높은 산에 간다.")
    nouns = {t.term for t in tokens if t.noun}
    assert "구멍" in nouns and "산" in nouns
    assert not nouns & {"작", "먹", "높"}


def test_korean_stop_words_are_flagged() -> None:
    tokens = tokenize("그리고 이것은 우리가 배운 것이다.")
    flagged = {t.term for t in tokens if t.stop}
    assert {"그리고", "이것", "우리", "것"} <= flagged
    assert "것" in KOREAN_STOP and "the" in ENGLISH_STOP


def test_index_terms_add_hangul_bigrams_so_compounds_match() -> None:
    terms = index_terms(tokenize("물순환을 배운다"))
    assert "물순환" in terms and "#물순" in terms and "#순환" in terms
    spaced = index_terms(tokenize("물의 순환은 계속된다"))
    assert "순환" in spaced and "#순환" in spaced  # shared with the compound above
    # English words get no bigrams.
    assert index_terms(tokenize("evaporation")) == ["evaporation"]
