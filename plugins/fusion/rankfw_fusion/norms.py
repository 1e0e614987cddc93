"""Score normalisations applied to each input run, one query at a time (ranx's definitions).

Each function takes the scores of one run's hits, flattened over all queries (each query's list
in rank order), with their :class:`Segments`, and normalises every query's list on its own. It
returns a :class:`Normalised`: the new scores and, for Borda, per query the score a document
*missing* from this run gets (``None``: missing documents stay missing; the method decides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

EPS = 1e-9
"""Smallest denominator, as in ranx (a constant list normalises to zeros, not NaN)."""


class Segments(NamedTuple):
    """Where one run's hits (flattened over all queries) belong: per hit its query and 0-based
    position in that query's list; per query its number of hits and of candidates (all runs)."""

    query: np.ndarray
    position: np.ndarray
    lengths: np.ndarray
    candidates: np.ndarray

    @classmethod
    def from_offsets(cls, offsets: np.ndarray, candidates: np.ndarray | None = None) -> Segments:
        """The segments of hits laid out query after query, query ``i``'s at ``offsets[i]:offsets[i+1]``
        (``candidates``: per query, candidates of all runs; this run's own hit counts when not given)."""
        import numpy as np

        lengths = np.diff(offsets)
        query = np.repeat(np.arange(len(lengths)), lengths)
        position = np.arange(len(query)) - offsets[:-1][query]
        return cls(query, position, lengths, lengths if candidates is None else candidates)

    def reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``ufunc`` reduced over each query's hits (NaN for a query without hits)."""
        import numpy as np

        out = np.full(len(self.lengths), np.nan)
        filled = self.lengths > 0
        if filled.any():
            starts = (np.cumsum(self.lengths) - self.lengths)[filled]
            out[filled] = ufunc.reduceat(values, starts)
        return out

    def total(self, values: np.ndarray) -> np.ndarray:
        """The sum of each query's values, added in list order (0 for a query without hits)."""
        import numpy as np

        return np.bincount(self.query, weights=values, minlength=len(self.lengths))


class Normalised(NamedTuple):
    """Normalised scores of one run's hits, and per query the score of a missing document (or ``None``)."""

    scores: np.ndarray
    missing: np.ndarray | None = None


def none_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """The raw scores."""
    return Normalised(scores)


def min_max_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """``(s - min) / (max - min)``."""
    import numpy as np

    lo = seg.reduce(np.minimum, scores)
    span = np.maximum(seg.reduce(np.maximum, scores) - lo, EPS)
    return Normalised((scores - lo[seg.query]) / span[seg.query])


def max_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """``s / max``."""
    import numpy as np

    return Normalised(scores / np.maximum(seg.reduce(np.maximum, scores), EPS)[seg.query])


def sum_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """``(s - min) / sum(s - min)``."""
    import numpy as np

    lo = seg.reduce(np.minimum, scores)
    denominator = np.maximum(seg.total(scores) - lo * seg.lengths, EPS)
    return Normalised((scores - lo[seg.query]) / denominator[seg.query])


def z_score_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """``(s - mean) / std`` (population standard deviation; ranx's ``zmuv``)."""
    import numpy as np

    n = np.maximum(seg.lengths, 1)
    deviation = scores - (seg.total(scores) / n)[seg.query]
    std = np.sqrt(seg.total(deviation * deviation) / n)
    return Normalised(deviation / np.maximum(std, EPS)[seg.query])


def rank_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """``1 - i / n`` for the hit at 0-based position ``i`` of ``n`` hits."""
    return Normalised(1.0 - seg.position / seg.lengths[seg.query])


def borda_norm(scores: np.ndarray, seg: Segments) -> Normalised:
    """Borda count ``1 - i / N`` over the ``N`` candidates; a missing document gets the mean of the
    remaining positions, ``0.5 - (n - 1) / (2N)`` (Aslam & Montague's BordaFuse, as ranx)."""
    import numpy as np

    total = np.maximum(seg.candidates, 1)
    return Normalised(1.0 - seg.position / total[seg.query], 0.5 - (seg.lengths - 1) / (2 * total))


NormFunction = Callable[["np.ndarray", Segments], Normalised]

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

RANK_NORMS = frozenset({"rank", "borda"})
"""Normalisations that use only the positions of the hits, never their scores."""

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
