"""Extractive summaries by TextRank over sentences (pure, numpy).

Sentences are TF-IDF vectors (sublinear tf, smoothed idf, unit length); the
graph's edge weights are their cosine similarities, and PageRank (damping
0.85, power iteration) finds the sentences most similar to the rest, i.e.
the ones that say what the text as a whole says.  The random jump favours
the first sentences of a passage a little, where textbooks put their
definitions.  Picked sentences are returned in document order, and a
sentence too similar to one already picked is skipped, so a summary does
not say the same thing twice.  Every summary sentence is a sentence of the
material, word for word.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pagerank", "sentence_vectors", "summarise"]

DAMPING = 0.85
#: Sentences beyond this many are left out of one TextRank (cost is quadratic).
MAX_SENTENCES = 400
#: A candidate this similar (cosine) to a picked sentence repeats it.
REDUNDANT_COSINE = 0.55
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 320


def sentence_vectors(sentences: Sequence[Sequence[str]]) -> np.ndarray:
    """Unit-length TF-IDF rows, one per sentence (terms already normalised)."""
    vocabulary: dict[str, int] = {}
    for terms in sentences:
        for term in terms:
            vocabulary.setdefault(term, len(vocabulary))
    matrix = np.zeros((len(sentences), max(len(vocabulary), 1)), dtype=np.float64)
    for row, terms in enumerate(sentences):
        for term in terms:
            matrix[row, vocabulary[term]] += 1
    nonzero = matrix > 0
    matrix[nonzero] = 1 + np.log(matrix[nonzero])
    df = nonzero.sum(axis=0)
    matrix *= np.log((1 + len(sentences)) / (1 + df)) + 1
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def pagerank(weights: np.ndarray, jump: np.ndarray, *, iterations: int = 60) -> np.ndarray:
    """PageRank of a weighted, undirected graph; ``jump`` is the teleport vector."""
    n = weights.shape[0]
    out_sum = weights.sum(axis=1, keepdims=True)
    # Rows without edges teleport; the others spread their rank along their edges.
    transition = np.divide(weights, out_sum, out=np.zeros_like(weights), where=out_sum > 0)
    dangling = (out_sum[:, 0] == 0).astype(np.float64)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        new = DAMPING * (rank @ transition + (rank @ dangling) * jump) + (1 - DAMPING) * jump
        if np.abs(new - rank).sum() < 1e-9:
            return new
        rank = new
    return rank


def summarise(
    sentences: Sequence[str],
    terms: Sequence[Sequence[str]],
    positions: Sequence[int],
    *,
    count: int,
) -> list[int]:
    """Indices of up to ``count`` summary sentences, in document order.

    ``terms`` are each sentence's index terms; ``positions`` each sentence's
    place in its passage (0 for the first).
    """
    candidates = [
        i
        for i, s in enumerate(sentences)
        if MIN_SENTENCE_CHARS <= len(s) <= MAX_SENTENCE_CHARS and not s.rstrip().endswith(":")
        and terms[i]
    ][:MAX_SENTENCES]
    if not candidates or count <= 0:
        return []
    vectors = sentence_vectors([terms[i] for i in candidates])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    jump = np.array([1.0 / (1 + positions[i]) for i in candidates])
    jump /= jump.sum()
    scores = pagerank(similarity, jump)
    order = np.lexsort((np.arange(len(candidates)), -scores))
    picked: list[int] = []
    for k in order:
        if len(picked) >= count:
            break
        if any(float(vectors[k] @ vectors[j]) > REDUNDANT_COSINE for j in picked):
            continue
        picked.append(int(k))
    return sorted(candidates[k] for k in picked)
