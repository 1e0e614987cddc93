"""One query's input hits as dense arrays (runs x candidate documents), and ranking the result.

Candidates are the distinct documents of all input lists, in order of first appearance. For run
``r`` and candidate ``j``: ``scores[r, j]`` is the normalised score (NaN when missing),
``present[r, j]`` whether the run holds the document (Borda makes every candidate present) and
``ranks[r, j]`` its 1-based position in the run (``len(run) + 1`` for a Borda-filled one, 0 when
missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rankfw.core import Run
from rankfw_fusion.norms import NORMS

Hit = tuple[str, float]


@dataclass
class QueryMatrix:
    """One query's candidates and their normalised scores in every input run."""

    docids: list[str]
    scores: np.ndarray
    present: np.ndarray
    ranks: np.ndarray

    def filled(self, value: float) -> np.ndarray:
        """``scores`` with missing entries set to ``value``."""
        return np.where(self.present, self.scores, value)


def query_matrix(lists: Sequence[Sequence[Hit]], norm: str) -> QueryMatrix:
    """Stack one query's hit lists (each in rank order) into a :class:`QueryMatrix`."""
    unpacked = [tuple(zip(*hits)) if hits else ((), ()) for hits in lists]
    first_seen = dict.fromkeys(d for docs, _ in unpacked for d in docs)
    position = dict(zip(first_seen, range(len(first_seen))))
    docids = list(first_seen)
    n_runs, n_docs = len(lists), len(docids)
    scores = np.full((n_runs, n_docs), np.nan)
    present = np.zeros((n_runs, n_docs), dtype=bool)
    ranks = np.zeros((n_runs, n_docs), dtype=np.int64)
    normalise = NORMS[norm]
    for r, (docs, raw) in enumerate(unpacked):
        cols = np.fromiter(map(position.__getitem__, docs), dtype=np.int64, count=len(docs))
        normalised = normalise(np.asarray(raw, dtype=np.float64), n_docs)
        if normalised.missing is not None:
            scores[r] = normalised.missing
            present[r] = True
            ranks[r] = len(docs) + 1
        scores[r, cols] = normalised.scores
        present[r, cols] = True
        ranks[r, cols] = np.arange(1, len(docs) + 1)
    return QueryMatrix(docids, scores, present, ranks)


def ranked_hits(docids: list[str], fused: np.ndarray, k: int | None) -> list[Hit]:
    """The candidates by fused score (descending), ties by docid (ascending, as :class:`Run`), cut at ``k``."""
    order = np.argsort(-fused, kind="stable")
    ordered = fused[order]
    index = order.tolist()
    ties = np.flatnonzero(ordered[1:] == ordered[:-1])
    if ties.size:
        _sort_ties(index, ties, docids)
    if k is not None:
        index = index[:k]
    return list(zip(map(docids.__getitem__, index), fused[index].tolist()))


def _sort_ties(index: list[int], ties: np.ndarray, docids: list[str]) -> None:
    """Sort every run of equal scores in ``index`` by docid, in place (``ties[i]``: ``i`` equals ``i+1``)."""
    breaks = np.flatnonzero(np.diff(ties) != 1)
    starts = np.concatenate(([ties[0]], ties[breaks + 1])).tolist()
    ends = np.concatenate((ties[breaks], [ties[-1]])).tolist()
    for start, end in zip(starts, ends):
        index[start : end + 2] = sorted(index[start : end + 2], key=docids.__getitem__)


def query_ids(runs: Sequence[Run]) -> list[str]:
    """Every qid of ``runs``, in order of first appearance."""
    return list(dict.fromkeys(q for run in runs for q in run))
