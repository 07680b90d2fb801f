"""Okapi BM25 over passages, with numpy (pure, immutable once built).

Postings are kept per term (document indices and term frequencies as numpy
arrays), so scoring a query touches only the passages that contain its
terms and memory grows with the text, not with passages × vocabulary.  The
IDF is Lucene's ``log(1 + (N - df + 0.5) / (df + 0.5))``, which stays
positive for terms found in most passages.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = ["Bm25"]


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
