"""The searchable index of a session's material (pure, immutable once built).

:func:`build_index` splits each :class:`Material` into passages and
sentences, tokenises them once, and builds the BM25 postings and the key
terms.  Everything the composer and the prompt builder need reads from the
:class:`MaterialIndex`, so a material is analysed once, not per request.

Citation labels: passages are numbered ``p1``, ``p2``, ... across the
materials in the order given.  With one material (the common case) a label
is the passage's own id; with several, each label still resolves through
:meth:`MaterialIndex.source` to ``(material_id, passage id, page)``, and
events carry that resolution, so a citation never depends on the order.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .keyterms import KeyTerm, extract_key_terms, find_term
from .material import Material, Passage
from .passages import split_passages, split_sentences
from .tokens import Token, index_terms, tokenize

__all__ = ["Bm25", "Hit", "IndexedPassage", "MaterialIndex", "Sentence", "build_index"]

#: Key terms kept per index (the composer shows fewer; visuals and questions pick from these).
KEY_TERMS = 40


# Okapi BM25 with numpy.  Postings are kept per term (document indices and term
# frequencies as numpy arrays), so scoring a query touches only the passages
# that contain its terms and memory grows with the text, not with passages x
# vocabulary.  The IDF is Lucene's log(1 + (N - df + 0.5) / (df + 0.5)), which
# stays positive for terms found in most passages.


class Bm25:
    """Scores passages (each a list of index terms) against a query's terms."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self.size = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=np.float64)
        self.lengths = lengths
        average = float(lengths.mean()) if self.size else 0.0
        # Per-document length normalisation, computed once.
        self._norm = k1 * (1 - b + b * lengths / average) if average else np.full(self.size, k1)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for index, document in enumerate(documents):
            for term, count in Counter(document).items():
                docs, tfs = postings.setdefault(term, ([], []))
                docs.append(index)
                tfs.append(count)
        self._postings = {
            term: (np.array(docs, dtype=np.int32), np.array(tfs, dtype=np.float64))
            for term, (docs, tfs) in postings.items()
        }

    def document_frequency(self, term: str) -> int:
        posting = self._postings.get(term)
        return 0 if posting is None else len(posting[0])

    def idf(self, term: str) -> float:
        df = self.document_frequency(term)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document (0 where no query term occurs)."""
        out = np.zeros(self.size, dtype=np.float64)
        for term, weight in Counter(query).items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            docs, tfs = posting
            contribution = tfs * (self.k1 + 1) / (tfs + self._norm[docs])
            out[docs] += weight * self.idf(term) * contribution
        return out

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best (document, score) pairs with a positive score, best first.

        Ties keep document order, so results are deterministic.
        """
        scores = self.scores(query)
        order = np.lexsort((np.arange(self.size), -scores))
        return [(int(i), float(scores[i])) for i in order[:k] if scores[i] > 0]


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    passage: int  # index into MaterialIndex.passages
    position: int  # 0 for the first sentence of its passage
    tokens: tuple[Token, ...]
    terms: tuple[str, ...]  # index terms (for similarity)


@dataclass(frozen=True, slots=True)
class IndexedPassage:
    label: str  # the citation label, "p3"
    passage: Passage
    material_id: str
    material_title: str
    tokens: tuple[Token, ...]
    sentences: tuple[int, ...]  # indices into MaterialIndex.sentences

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def heading(self) -> str:
        return self.passage.heading

    @property
    def page(self) -> int | None:
        return self.passage.page


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage chosen for a request, with the ranker's score."""

    index: int  # into MaterialIndex.passages
    score: float


class MaterialIndex:
    """Passages, sentences, BM25 and key terms of one or more materials."""

    def __init__(self, materials: Sequence[Material]) -> None:
        self.materials = tuple(materials)
        passages: list[IndexedPassage] = []
        sentences: list[Sentence] = []
        for material in self.materials:
            for passage in split_passages(material):
                ids: list[int] = []
                for position, text in enumerate(split_sentences(passage.text)):
                    tokens = tuple(tokenize(text))
                    ids.append(len(sentences))
                    sentences.append(
                        Sentence(text, len(passages), position, tokens, tuple(index_terms(tokens)))
                    )
                passages.append(
                    IndexedPassage(
                        label=f"p{len(passages) + 1}",
                        passage=passage,
                        material_id=material.id,
                        material_title=material.title,
                        tokens=tuple(t for i in ids for t in sentences[i].tokens),
                        sentences=tuple(ids),
                    )
                )
        self.passages = tuple(passages)
        self.sentences = tuple(sentences)
        # Word -> sentences that use it, so finding a term's sentences skips the rest.
        self._sentences_with: dict[str, list[int]] = {}
        for i, sentence in enumerate(sentences):
            for term in dict.fromkeys(t.term for t in sentence.tokens):
                self._sentences_with.setdefault(term, []).append(i)
        self._labels = {p.label: i for i, p in enumerate(passages)}
        heading_texts = sorted({p.heading for p in passages if p.heading})
        titles = [m.title for m in self.materials]
        # A passage's heading says what it is about: it is indexed with the passage.
        self.bm25 = Bm25([index_terms((*tokenize(p.heading), *p.tokens)) for p in passages])
        self.key_terms = tuple(
            extract_key_terms(
                [p.tokens for p in passages],
                [tokenize(h) for h in (*heading_texts, *titles)],
                limit=KEY_TERMS,
            )
        )
        by_length: Counter[str] = Counter()
        for material in self.materials:
            by_length[material.language] += len(material.text)
        self.language = by_length.most_common(1)[0][0] if by_length else "en"
        joined = ",".join(m.digest for m in self.materials)
        self.digest = hashlib.sha256(joined.encode()).hexdigest()[:24]

    def __len__(self) -> int:
        return len(self.passages)

    @property
    def title(self) -> str:
        """The materials' titles ("" for none: untitled materials are left out)."""
        return " / ".join(m.title for m in self.materials if m.title)

    def search(self, query: str, k: int) -> list[Hit]:
        """The ``k`` passages BM25 ranks highest for ``query`` (only matching ones)."""
        terms = index_terms(tokenize(query))
        return [Hit(i, score) for i, score in self.bm25.top(terms, k)]

    def passage(self, label: str) -> IndexedPassage | None:
        index = self._labels.get(label)
        return None if index is None else self.passages[index]

    def source(self, label: str) -> dict[str, Any] | None:
        """What a citation label resolves to (for events)."""
        p = self.passage(label)
        if p is None:
            return None
        out: dict[str, Any] = {
            "id": p.label,
            "material_id": p.material_id,
            "passage": p.passage.id,
            "page": p.page,
            "heading": p.heading,
        }
        if p.material_title:  # an untitled (unpublished) material is named by its id only
            out["material_title"] = p.material_title
        return out

    def terms_in(self, passages: Sequence[int], limit: int = 12) -> list[KeyTerm]:
        """Key terms that occur in the given passages, best first."""
        wanted = set(passages)
        return [t for t in self.key_terms if wanted.intersection(t.passages)][:limit]

    def occurrences(self, term: KeyTerm, passages: Sequence[int] | None = None) -> list[int]:
        """Sentence indices that contain ``term`` (optionally within some passages)."""
        scope = None if passages is None else set(passages)
        return [
            s
            for s in self._sentences_with.get(term.words[0], ())
            if (scope is None or self.sentences[s].passage in scope)
            and find_term(self.sentences[s].tokens, term.words)
        ]


def build_index(materials: Sequence[Material]) -> MaterialIndex:
    return MaterialIndex(materials)
