"""Tokenisation for English and Korean material (pure).

English: lower-cased words with Harman's "S" stemmer (``clouds`` →
``cloud``, ``bodies`` → ``body``) so plurals meet their singulars, and the
stop words of :mod:`.stopwords` flagged.

Korean: written Korean glues particles (josa) to the noun they mark
("광합성은", "엽록체에서", "물의"), so splitting on spaces alone makes every
noun a dozen different words.  Two standard remedies exist and each is used
where it is strong:

* **Particle stripping** (this module's :func:`strip_josa`): the longest
  matching particle is removed from the end of a word, checked against the
  final consonant (batchim) of the syllable before it, which is the rule
  Korean itself follows ("물이" but "바다가"; "빛으로" but "바다로").  The
  result is a real word a person recognises, so key terms, blanks and
  answers are built from it.  Without a dictionary it can over-strip a noun
  that happens to end like a particle (e.g. "고양이" → "고양"), which is why
  it is not relied on alone for retrieval.
* **Character bigrams** of the stripped word ("광합성" → "광합", "합성"), the
  dictionary-free method CJK search engines use (Lucene's CJK analyser):
  robust to compounds and to stripping errors, but bigrams are fragments, not
  words.  :func:`index_terms` adds them next to the whole words, so BM25 and
  TF-IDF match "물순환" with "물의 순환" while key terms stay words.

A Korean word counts as a noun (``Token.noun``) when it occurs with a
particle that only nouns take (:data:`.stopwords.NOUN_EVIDENCE_JOSA`); verbs
and adjectives ("만든다", "중요한") never do, which keeps them out of key
terms without a part-of-speech tagger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .stopwords import ENGLISH_STOP, JOSA, KOREAN_STOP, NOUN_EVIDENCE_JOSA

__all__ = [
    "Token",
    "hangul_bigrams",
    "has_batchim",
    "index_terms",
    "is_hangul",
    "s_stem",
    "strip_josa",
    "tokenize",
]

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
# Phrases (multi-word terms) never cross these.
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”‘’…·/|\n–—]|\s-\s")
_HANGUL_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")
_HANGUL_TAIL = re.compile(r"^([A-Za-z0-9]+)([\uac00-\ud7a3]+)$")
# Stems that end like a verb or adjective ("흡수하", "변하", "되") are not nouns.
_VERB_STEM_END = ("하", "되", "시키", "지는", "해지")


def is_hangul(text: str) -> bool:
    return bool(_HANGUL_SYLLABLE.search(text))


def has_batchim(syllable: str) -> bool:
    """Whether a Hangul syllable ends in a consonant (e.g. 물 yes, 바 no)."""
    code = ord(syllable) - 0xAC00
    return 0 <= code <= 11171 and code % 28 != 0


def _has_rieul_batchim(syllable: str) -> bool:
    code = ord(syllable) - 0xAC00
    return 0 <= code <= 11171 and code % 28 == 8


def strip_josa(word: str) -> tuple[str, str]:
    """``(stem, particle)``: the word without its trailing particle, if any.

    A particle is only stripped when the syllable before it agrees with it
    (batchim rule) and something is left; "도" and "만" also need two
    syllables left, since many short nouns end in them ("온도", "포도").
    """
    for josa, after in JOSA:
        if not word.endswith(josa) or len(word) <= len(josa):
            continue
        stem = word[: -len(josa)]
        last = stem[-1]
        if not is_hangul(last):
            return stem, josa  # "DNA는": a Latin word with a Korean particle
        if after == "C" and not has_batchim(last):
            continue
        if after == "V" and has_batchim(last):
            # "로" also follows a final ㄹ ("물로"); other "V" particles do not.
            if not (josa.startswith("로") and _has_rieul_batchim(last)):
                continue
        if josa in ("도", "만") and len(stem) < 2:
            continue
        return stem, josa
    return word, ""


_S_KEEP = ("us", "ss", "is")


def s_stem(word: str) -> str:
    """Harman's S stemmer: plural to singular, nothing more aggressive."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(_S_KEEP):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Token:
    """One word: ``term`` is what is matched, ``surface`` what is shown."""

    term: str
    surface: str
    hangul: bool
    stop: bool
    noun: bool  # Korean: seen with a noun-only particle; English: always True
    josa: str  # the particle that was stripped ("" if none)
    start: int  # offset of the surface in the text
    segment: int  # phrases never span two segments
    initial: bool = False  # first word of a sentence or line (its capital says nothing)

    @property
    def content(self) -> bool:
        """A word that can be a key term (not a stop word or a number)."""
        return not self.stop and self.term[:1].isalpha()


_INITIAL_BEFORE = re.compile(r"(?:^|[.!?:\n]|^\s*(?:[-*+•]|\d{1,3}[.)]))[\s\"“'‘(]*$")


def _initial(text: str, start: int) -> bool:
    return bool(_INITIAL_BEFORE.search(text[max(0, start - 8) : start]))


def _korean_token(word: str, start: int, segment: int, initial: bool) -> Token:
    stem, josa = strip_josa(word)
    noun = josa in NOUN_EVIDENCE_JOSA and not stem.endswith(_VERB_STEM_END)
    if josa == "을" and len(stem) < 2:
        noun = False  # "먹을 때": the future ending on a verb, not the object particle
    stop = stem in KOREAN_STOP or word in KOREAN_STOP
    return Token(stem, stem, True, stop, noun, josa, start, segment, initial)


def tokenize(text: str) -> list[Token]:
    """Every word of ``text`` in order, stop words included (flagged)."""
    tokens: list[Token] = []
    breaks = [m.start() for m in _BREAK.finditer(text)]
    segment = 0
    for match in _WORD.finditer(text):
        start = match.start()
        while segment < len(breaks) and breaks[segment] < start:
            segment += 1
        word = match.group()
        mixed = _HANGUL_TAIL.match(word)
        if mixed is not None:
            stem, josa = strip_josa(word)
            if josa:
                word = stem
        if is_hangul(word):
            tokens.append(_korean_token(word, start, segment, _initial(text, start)))
            continue
        low = word.lower().replace("’", "'")
        low = low.removesuffix("'s")
        term = s_stem(low)
        stop = low in ENGLISH_STOP or term in ENGLISH_STOP or len(low) < 2
        surface = word.removesuffix("'s")
        initial = _initial(text, start)
        tokens.append(Token(term, surface, False, stop, True, "", start, segment, initial))
    return tokens


def hangul_bigrams(stem: str) -> list[str]:
    """Overlapping two-syllable pieces of a Korean word ("광합성" → 광합, 합성).

    A two-syllable word is its own single bigram, so that "순환" meets the
    "순환" inside "물순환".
    """
    if len(stem) < 2:
        return []
    return ["#" + stem[i : i + 2] for i in range(len(stem) - 1)]


def index_terms(tokens: Iterable[Token]) -> list[str]:
    """The terms a passage is indexed under: content words plus Hangul bigrams.

    Bigrams are prefixed with ``#`` so they never collide with a word.
    """
    out: list[str] = []
    for token in tokens:
        if token.stop:
            continue
        out.append(token.term)
        if token.hangul:
            out.extend(hangul_bigrams(token.term))
    return out
