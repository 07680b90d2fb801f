"""Questions and hints made from a material (pure, deterministic).

* Fill in the blank: a sentence of the material with one key term blanked
  out; the answer is the term as the sentence writes it, so it is always in
  the passage.  Sentences that define a term ("Evaporation is the process
  ...", "광합성은 ...") are used first.
* Multiple choice: the same kind of sentence, with the answer and three
  distractors that are *other key terms of the same material* (same script,
  not sharing a word with the answer, not already in the sentence).
* Hints: the passage an answer needs (its citation label) and the sentence
  of it that holds the answer, with the answer blanked, so a hint quotes the
  material instead of inventing a clue.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .index import MaterialIndex
from .keyterms import KeyTerm, find_term
from .tokens import Token, tokenize

__all__ = ["BLANK", "HintPlan", "Question", "QuestionKind", "hint_plan", "make_questions"]

QuestionKind = Literal["blank", "choice"]

BLANK = "____"
MIN_QUESTION_CHARS = 30
MAX_QUESTION_CHARS = 260
DISTRACTORS = 3
_DEFINING = frozenset({"is", "are", "refers", "means", "describes"})
_TOPIC_JOSA = frozenset({"은", "는", "이란", "란", "이라는"})
_ARTICLES = frozenset({"the", "a", "an"})


@dataclass(frozen=True, slots=True)
class Question:
    kind: QuestionKind
    prompt: str  # the sentence with BLANK where the answer was
    answer: str  # the key term as the sentence writes it
    choices: tuple[str, ...]  # choice questions only, answer included
    correct: int | None  # index of the answer in ``choices``
    source: str  # citation label of the passage
    sentence: str  # the sentence word for word
    term: str  # KeyTerm.key


@dataclass(frozen=True, slots=True)
class HintPlan:
    source: str  # citation label of the passage the answer needs
    heading: str
    page: int | None
    quote: str  # the sentence holding the answer, the answer blanked when found
    answer: str


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:4], "big")


def _span(tokens: Sequence[Token], start: int, n: int) -> tuple[int, int]:
    last = tokens[start + n - 1]
    return tokens[start].start, last.start + len(last.surface)


def blank_out(sentence: str, tokens: Sequence[Token], words: Sequence[str]) -> tuple[str, str]:
    """``(prompt, answer)``: every occurrence of ``words`` replaced by BLANK."""
    hits = find_term(tokens, words)
    if not hits:
        return sentence, ""
    spans = [_span(tokens, i, len(words)) for i in hits]
    answer = sentence[spans[0][0] : spans[0][1]]
    out = sentence
    for start, end in reversed(spans):
        out = out[:start] + BLANK + out[end:]
    return out, answer


def _defines(tokens: Sequence[Token], term: KeyTerm) -> bool:
    i = 0
    while i < len(tokens) and tokens[i].term in _ARTICLES:
        i += 1
    if find_term(tokens[i : i + len(term.words)], term.words) != [0]:
        return False
    if term.hangul:
        return tokens[i + len(term.words) - 1].josa in _TOPIC_JOSA
    after = i + len(term.words)
    return after < len(tokens) and tokens[after].term in _DEFINING


def _distractors(
    index: MaterialIndex, term: KeyTerm, tokens: Sequence[Token], seed: int
) -> list[KeyTerm]:
    present = {t.term for t in tokens}
    pool = [
        t
        for t in index.key_terms
        if t.key != term.key
        and t.hangul == term.hangul
        and not set(t.words) & set(term.words)
        and not set(t.words) & present
    ]
    # Same number of words first (a phrase among single words stands out), then by score.
    pool.sort(key=lambda t: (len(t.words) != len(term.words), -t.score))
    head = pool[: DISTRACTORS + 3]
    if len(head) <= DISTRACTORS:
        return head
    shift = seed % (len(head) - DISTRACTORS + 1)
    return head[shift : shift + DISTRACTORS]


def make_questions(
    index: MaterialIndex,
    passages: Sequence[int],
    *,
    count: int,
    kinds: Sequence[QuestionKind] = ("blank", "choice"),
) -> list[Question]:
    """Up to ``count`` questions from sentences of ``passages``, kinds in turn."""
    terms = index.terms_in(passages, limit=len(index.key_terms))
    scope = set(passages)
    used_sentences: set[int] = set()
    candidates: list[tuple[bool, int, KeyTerm, int]] = []
    for rank, term in enumerate(terms):
        for s in index.occurrences(term, sorted(scope)):
            sentence = index.sentences[s]
            if not MIN_QUESTION_CHARS <= len(sentence.text) <= MAX_QUESTION_CHARS:
                continue
            if sentence.text.rstrip().endswith(":") or len(sentence.tokens) < 4:
                continue
            candidates.append((not _defines(sentence.tokens, term), rank, term, s))
    candidates.sort(key=lambda c: (c[0], c[1], c[3]))
    out: list[Question] = []
    used_terms: set[str] = set()
    for _, _, term, s in candidates:
        if len(out) >= count:
            break
        if term.key in used_terms or s in used_sentences:
            continue
        sentence = index.sentences[s]
        prompt, answer = blank_out(sentence.text, sentence.tokens, term.words)
        if not answer or len(answer) > 0.6 * len(sentence.text):
            continue
        kind: QuestionKind = kinds[len(out) % len(kinds)]
        source = index.passages[sentence.passage].label
        choices: tuple[str, ...] = ()
        correct: int | None = None
        if kind == "choice":
            seed = _seed(sentence.text, term.key)
            others = _distractors(index, term, sentence.tokens, seed)
            if len(others) < DISTRACTORS:
                kind = "blank"  # too few other terms for honest distractors
            else:
                options = [term.label, *(t.label for t in others)]
                order = sorted(range(len(options)), key=lambda i: _seed(str(seed), options[i]))
                choices = tuple(options[i] for i in order)
                correct = choices.index(term.label)
        out.append(
            Question(kind, prompt, answer, choices, correct, source, sentence.text, term.key)
        )
        used_terms.add(term.key)
        used_sentences.add(s)
    return out


_SPACE = re.compile(r"\s+")


def hint_plan(index: MaterialIndex, question: str, answer: str = "") -> HintPlan | None:
    """The passage and sentence that answer ``question`` (None if nothing matches)."""
    answer = _SPACE.sub(" ", answer).strip()
    answer_tokens = [t for t in tokenize(answer) if not t.stop]
    words = tuple(t.term for t in answer_tokens)
    hits = index.search(f"{question} {answer}", 8)
    if not hits:
        return None
    query = {t.term for t in tokenize(question) if not t.stop}

    def overlap(s: int) -> tuple[int, int]:
        return len(query & {t.term for t in index.sentences[s].tokens}), -s

    best_sentence: int | None = None
    for hit in hits:
        holding = [
            s
            for s in index.passages[hit.index].sentences
            if words and find_term(index.sentences[s].tokens, words)
        ]
        if holding:
            # Of the sentences that hold the answer, the one closest to the question.
            best_sentence = max(holding, key=overlap)
            break
    if best_sentence is None:
        # No sentence holds the answer word for word: the most relevant sentence of the top hit.
        best_sentence = max(index.passages[hits[0].index].sentences, key=overlap)
    sentence = index.sentences[best_sentence]
    quote, found = blank_out(sentence.text, sentence.tokens, words) if words else ("", "")
    passage = index.passages[sentence.passage]
    return HintPlan(
        source=passage.label,
        heading=passage.heading,
        page=passage.page,
        quote=quote if found else sentence.text,
        answer=found or answer,
    )
