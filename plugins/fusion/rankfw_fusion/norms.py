"""Score normalisations applied to each input run, one query at a time (ranx's definitions).

Each function takes the scores of one run's hits for one query (in rank order) and the number
of candidates (distinct documents over all input runs for that query) and returns a
:class:`Normalised`: the new scores and, for Borda, the score a document *missing* from this
run gets (``None``: missing documents stay missing and the fusion method decides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

EPS = 1e-9
"""Smallest denominator, as in ranx (a constant list normalises to zeros, not NaN)."""


class Normalised(NamedTuple):
    """Normalised scores of one run's hits, and the score of a missing document (or ``None``)."""

    scores: np.ndarray
    missing: float | None = None


def none_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """The raw scores."""
    return Normalised(scores)


def min_max_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """``(s - min) / (max - min)``."""
    if scores.size == 0:
        return Normalised(scores)
    lo = scores.min()
    return Normalised((scores - lo) / max(scores.max() - lo, EPS))


def max_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """``s / max``."""
    if scores.size == 0:
        return Normalised(scores)
    return Normalised(scores / max(scores.max(), EPS))


def sum_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """``(s - min) / sum(s - min)``."""
    if scores.size == 0:
        return Normalised(scores)
    lo = scores.min()
    return Normalised((scores - lo) / max(scores.sum() - lo * scores.size, EPS))


def z_score_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """``(s - mean) / std`` (population standard deviation; ranx's ``zmuv``)."""
    if scores.size == 0:
        return Normalised(scores)
    return Normalised((scores - scores.mean()) / max(scores.std(), EPS))


def rank_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """``1 - i / n`` for the hit at 0-based position ``i`` of ``n`` hits."""
    import numpy as np

    n = scores.size
    return Normalised(1.0 - np.arange(n, dtype=np.float64) / max(n, 1))


def borda_norm(scores: np.ndarray, n_candidates: int) -> Normalised:
    """Borda count ``1 - i / N`` over the ``N`` candidates; a missing document gets the mean of the
    remaining positions, ``0.5 - (n - 1) / (2N)`` (Aslam & Montague's BordaFuse, as ranx)."""
    import numpy as np

    n = scores.size
    total = max(n_candidates, 1)
    return Normalised(1.0 - np.arange(n, dtype=np.float64) / total, 0.5 - (n - 1) / (2 * total))


NormFunction = Callable[["np.ndarray", int], Normalised]

NORMS: dict[str, NormFunction] = {
    "none": none_norm,
    "min-max": min_max_norm,
    "max": max_norm,
    "sum": sum_norm,
    "z-score": z_score_norm,
    "rank": rank_norm,
    "borda": borda_norm,
}
"""Normalisation name -> function."""

RANX_NAMES: dict[str, str | None] = {
    "none": None,
    "min-max": "min-max",
    "max": "max",
    "sum": "sum",
    "z-score": "zmuv",
    "rank": "rank",
    "borda": "borda",
}
"""Our normalisation name -> ranx's ``norm`` argument of ``ranx.fuse``."""
