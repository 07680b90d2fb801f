"""Key terms of a material by TF-IDF over its passages (pure, numpy).

Candidates are content words and runs of two or three adjacent content
words inside one phrase ("water vapor", "hydrologic cycle"); stop words and
numbers never are, and a Korean word must have been seen with a noun-only
particle (see :mod:`.tokens`).  A candidate's score is its aggregate TF-IDF
over passages, ``idf × Σ_p (1 + ln tf_p)`` with the smoothed
``idf = ln((1 + N) / (1 + df)) + 1``: frequent *and* concentrated terms
rank first, terms spread thinly over every passage ("water") lower.  Terms in
headings count extra, since headings say what a text is about.  A single
word that mostly occurs inside a chosen multi-word term is dropped in its
favour ("vapor" inside "water vapor").
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .tokens import Token

__all__ = ["KeyTerm", "extract_key_terms", "find_term"]

#: Weight of a candidate that also appears in a heading.
HEADING_BOOST = 1.6
#: Weight of a term the text defines ("Evaporation is ...", "광합성은 ...").
DEFINED_BOOST = 1.5
_DEFINING_VERBS = frozenset({"is", "are", "refers", "means", "describes"})
_TOPIC_JOSA = frozenset({"은", "는", "이란", "란", "이라는"})
#: Extra weight per additional word of a multi-word term.
PHRASE_BOOST = 0.35
#: A word is dropped when this share of its uses is inside a chosen phrase.
SUBSUMED_SHARE = 0.6
MAX_PHRASE_WORDS = 3


@dataclass(frozen=True, slots=True)
class KeyTerm:
    key: str  # normalised words joined by a space: what is matched
    label: str  # how the material writes it
    score: float
    count: int
    passages: tuple[int, ...]  # indices of the passages it occurs in
    words: tuple[str, ...]
    hangul: bool


def _candidate_words(tokens: Sequence[Token], nouns: set[str]) -> list[list[int]]:
    """Runs of token indices that may form terms (split at stop words and breaks)."""
    runs: list[list[int]] = []
    run: list[int] = []
    for i, token in enumerate(tokens):
        ok = token.content and (
            (not token.hangul and len(token.term) >= 3)
            or (token.hangul and token.term in nouns)
        )
        if ok and run and tokens[run[-1]].segment != token.segment:
            runs.append(run)
            run = []
        if ok and run and (tokens[run[-1]].hangul != token.hangul or tokens[run[-1]].josa):
            # A Korean particle ends the noun phrase it marks; scripts never mix.
            runs.append(run)
            run = []
        if ok:
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _defined(passages: Sequence[Sequence[Token]]) -> set[tuple[str, ...]]:
    """Terms that open a sentence as its subject: what the text defines."""
    out: set[tuple[str, ...]] = set()
    for tokens in passages:
        for i, token in enumerate(tokens):
            if not token.initial or not token.content:
                continue
            if token.hangul:
                if token.josa in _TOPIC_JOSA:
                    out.add((token.term,))
                continue
            for n in range(1, MAX_PHRASE_WORDS + 1):
                span = tokens[i : i + n]
                follow = tokens[i + n] if i + n < len(tokens) else None
                if len(span) < n or not all(t.content for t in span):
                    break
                if follow is not None and follow.term in _DEFINING_VERBS:
                    out.add(tuple(t.term for t in span))
    return out


def find_term(tokens: Sequence[Token], words: Sequence[str]) -> list[int]:
    """Indices where ``words`` (normalised) occur as consecutive tokens."""
    n = len(words)
    first = words[0]
    return [
        i
        for i, token in enumerate(tokens[: len(tokens) - n + 1])
        if token.term == first and (n == 1 or [t.term for t in tokens[i : i + n]] == list(words))
    ]


def _label(surfaces: Counter[str], hangul: bool) -> str:
    if hangul:
        return surfaces.most_common(1)[0][0]
    # Lower case unless the material always capitalises it (a name: "Earth", "Sun").
    lowered = Counter({s.lower(): 0 for s in surfaces})
    for surface, count in surfaces.items():
        lowered[surface.lower()] += count
    best = lowered.most_common(1)[0][0]
    always_capital = all(s[:1].isupper() for s in surfaces)  # initial capitals were lowered
    if always_capital:
        return max((s for s in surfaces if s.lower() == best), key=lambda s: surfaces[s])
    return best


def extract_key_terms(
    passages: Sequence[Sequence[Token]],
    headings: Sequence[Sequence[Token]] = (),
    *,
    limit: int = 12,
) -> list[KeyTerm]:
    nouns = {t.term for tokens in (*passages, *headings) for t in tokens if t.noun and t.hangul}
    # A Korean heading is a noun phrase: its last word is a noun ("광합성에 필요한 물질").
    nouns |= {tokens[-1].term for tokens in headings if tokens and tokens[-1].hangul}
    rows: dict[tuple[str, ...], int] = {}
    entries: list[tuple[int, int]] = []  # (candidate, passage) per occurrence
    surfaces: defaultdict[int, Counter[str]] = defaultdict(Counter)
    hangul: dict[int, bool] = {}
    for p, tokens in enumerate(passages):
        for run in _candidate_words(tokens, nouns):
            for n in range(1, MAX_PHRASE_WORDS + 1):
                for start in range(len(run) - n + 1):
                    span = run[start : start + n]
                    words = tuple(tokens[i].term for i in span)
                    row = rows.setdefault(words, len(rows))
                    entries.append((row, p))
                    surface = " ".join(tokens[i].surface for i in span)
                    if tokens[span[0]].initial and not tokens[span[0]].hangul:
                        # A capital at the start of a sentence says nothing about names.
                        surface = surface[:1].lower() + surface[1:]
                    surfaces[row][surface] += 1
                    hangul[row] = tokens[span[0]].hangul
    if not entries:
        return []
    data = np.array(entries, dtype=np.int64)
    n_rows, n_passages = len(rows), len(passages)
    # tf per (candidate, passage), then aggregate TF-IDF per candidate.
    flat = data[:, 0] * n_passages + data[:, 1]
    pairs, tf = np.unique(flat, return_counts=True)
    pair_rows = pairs // n_passages
    df = np.bincount(pair_rows, minlength=n_rows)
    count = np.bincount(data[:, 0], minlength=n_rows)
    idf = np.log((1 + n_passages) / (1 + df)) + 1
    score = np.bincount(pair_rows, weights=1 + np.log(tf), minlength=n_rows) * idf
    words_of = [w for w, _ in sorted(rows.items(), key=lambda kv: kv[1])]
    lengths = np.array([len(w) for w in words_of])
    score *= 1 + PHRASE_BOOST * (lengths - 1)
    heading_words = {t.term for tokens in headings for t in tokens if t.content}
    defined = _defined(passages)
    for row, words in enumerate(words_of):
        if len(words) > 1 and count[row] < 2:
            score[row] = 0  # a phrase seen once is a coincidence, not a term
            continue
        if hangul[row] and len(words) == 1 and len(words[0]) == 1 and count[row] < 2:
            score[row] = 0  # a one-syllable word seen once is too likely a stripping error
            continue
        if all(w in heading_words for w in words):
            score[row] *= HEADING_BOOST
        if words in defined:
            score[row] *= DEFINED_BOOST
    passages_of: defaultdict[int, set[int]] = defaultdict(set)
    for row, p in entries:
        passages_of[row].add(p)
    chosen: list[KeyTerm] = []
    for row in np.lexsort((np.arange(n_rows), -score)):
        if score[row] <= 0 or len(chosen) >= limit:
            break
        words = words_of[row]
        c = int(count[row])
        if any(_inside(words, c, other.words, other.count) for other in chosen):
            continue
        # A phrase replaces the single words it mostly accounts for ("cycle" → "water cycle").
        chosen = [o for o in chosen if not _inside(o.words, o.count, words, c)]
        chosen.append(
            KeyTerm(
                key=" ".join(words),
                label=_label(surfaces[row], hangul[row]),
                score=round(float(score[row]), 4),
                count=c,
                passages=tuple(sorted(passages_of[row])),
                words=words,
                hangul=hangul[row],
            )
        )
    return chosen


def _inside(words: tuple[str, ...], count: int, phrase: tuple[str, ...], phrase_count: int) -> bool:
    """Whether ``words`` is part of ``phrase`` and mostly used inside it (or repeats it)."""
    if words == phrase:
        return True
    n = len(words)
    if n >= len(phrase):
        return False
    inside = any(phrase[i : i + n] == words for i in range(len(phrase) - n + 1))
    return inside and phrase_count >= SUBSUMED_SHARE * count
