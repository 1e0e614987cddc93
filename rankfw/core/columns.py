"""A run as columns (numpy arrays), the form vectorised code reads hits in.

:class:`RunColumns` holds every hit of a run in rank order, query after query: per hit a docid
code (an index into a vocabulary of docids) and a score, and per query where its hits start. It
is built from per-query lists by C loops (``map``, ``np.fromiter``), never a Python loop per hit,
and turns back into them the same way. :meth:`rankfw.core.runs.Run.columns` builds it once per
run; :meth:`rankfw.core.runs.Run.from_columns` wraps it in a run whose lists are built on first use.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, count
from operator import itemgetter
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np

Hit = tuple[str, float]
T = TypeVar("T")
_DOCID, _SCORE = itemgetter(0), itemgetter(1)


@dataclass(frozen=True)
class RunColumns:
    """Every hit of a run, query after query in the run's query order, each query's in rank order.

    Query ``i`` (``qids[i]``) holds the hits ``offsets[i]:offsets[i + 1]``; hit ``j`` is the
    document ``names[codes[j]]`` with score ``scores[j]``. ``names`` may hold docids no hit uses
    (a fused run shares the vocabulary of all its inputs); a query may have no hits.
    """

    qids: list[str]
    offsets: np.ndarray
    """int64, ``len(qids) + 1`` entries, from 0 to the number of hits."""
    codes: np.ndarray
    """int64 per hit: the index of its docid in ``names``."""
    names: np.ndarray
    """object array of docids (str)."""
    scores: np.ndarray
    """float64 per hit."""

    def __post_init__(self) -> None:
        n_hits = int(self.offsets[-1]) if len(self.offsets) else 0
        if len(self.offsets) != len(self.qids) + 1 or len(self.codes) != n_hits or len(self.scores) != n_hits:
            raise ValueError(
                f"inconsistent columns: {len(self.qids)} queries, {len(self.offsets)} offsets, "
                f"{len(self.codes)} codes, {len(self.scores)} scores"
            )

    @classmethod
    def from_lists(cls, qids: Sequence[str], lists: Sequence[Sequence[Hit]]) -> RunColumns:
        """The columns of the ranked lists ``lists`` of the queries ``qids`` (docids coded in order
        of first appearance)."""
        import numpy as np

        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        n_hits = int(offsets[-1])
        vocabulary: defaultdict[str, int] = defaultdict(count().__next__)
        codes = np.fromiter(
            map(vocabulary.__getitem__, map(_DOCID, chain.from_iterable(lists))), dtype=np.int64, count=n_hits
        )
        scores = np.fromiter(map(_SCORE, chain.from_iterable(lists)), dtype=np.float64, count=n_hits)
        names = np.empty(len(vocabulary), dtype=object)
        names[:] = list(vocabulary)
        return cls(list(qids), offsets, codes, names, scores)

    @classmethod
    def from_hits(cls, hits: Mapping[str, Sequence[Hit]]) -> RunColumns:
        """The columns of ``qid -> [(docid, score), ...]`` (queries in the mapping's order)."""
        return cls.from_lists(list(hits), list(hits.values()))

    @property
    def lengths(self) -> np.ndarray:
        """The number of hits of each query."""
        import numpy as np

        return np.diff(self.offsets)

    def to_hits(self) -> dict[str, list[Hit]]:
        """``qid -> [(docid, score), ...]``: the per-query lists (the form :class:`Run` keeps)."""
        return self._per_query(list)

    def to_scores(self) -> dict[str, dict[str, float]]:
        """``qid -> {docid: score}`` (what :meth:`Run.scores` gives), without the per-query lists."""
        return self._per_query(dict)

    def _per_query(self, build: Callable[[Iterable[Hit]], T]) -> dict[str, T]:
        """``qid -> build(zip(docids, scores))`` of each query's hits, in order."""
        docids = self.names[self.codes].tolist()
        values = self.scores.tolist()
        bounds = self.offsets.tolist()
        with gc_paused():
            return {qid: build(zip(docids[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]]))
                    for i, qid in enumerate(self.qids)}

    def iter_scores(self, qids: Iterable[str], max_hits: int = 16384) -> Iterator[dict[str, dict[str, float]]]:
        """``qid -> {docid: score}`` of the queries among ``qids`` that the columns hold (in the order
        given), in groups of about ``max_hits`` hits (see :meth:`rankfw.core.runs.Run.iter_scores`)."""
        import numpy as np

        index = {qid: i for i, qid in enumerate(self.qids)}
        rows = np.fromiter((index[q] for q in qids if q in index), dtype=np.int64)
        if not len(rows):
            return
        lengths = np.diff(self.offsets)[rows]
        group_of = (np.cumsum(lengths) - lengths) // max(1, max_hits)  # by where a query's hits start
        for group in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(group_of)) + 1):
            picked, kept = rows[group], lengths[group]
            first = np.cumsum(kept) - kept
            hits = np.repeat(self.offsets[:-1][picked] - first, kept) + np.arange(int(kept.sum()))
            docids, values = self.names[self.codes[hits]].tolist(), self.scores[hits].tolist()
            bounds = np.append(first, first[-1] + kept[-1]).tolist()
            with gc_paused():
                scores = {self.qids[row]: dict(zip(docids[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]]))
                          for i, row in enumerate(picked.tolist())}
            yield scores

    def n_hits(self) -> int:
        """The number of hits over all queries."""
        return len(self.codes)

    def select(self, queries: Sequence[int], k: int | None = None) -> RunColumns:
        """The queries at positions ``queries`` (in that order), each cut to its first ``k`` hits."""
        import numpy as np

        picked = np.asarray(queries, dtype=np.int64)
        starts = self.offsets[:-1][picked]
        lengths = self.lengths[picked] if k is None else np.minimum(self.lengths[picked], k)
        offsets = np.zeros(len(picked) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]), dtype=np.int64)
        return RunColumns([self.qids[i] for i in picked.tolist()], offsets, self.codes[index], self.names,
                          self.scores[index])

    def top(self, k: int) -> RunColumns:
        """Every query's first ``k`` hits."""
        return self.select(range(len(self.qids)), k)

    def canonical(self) -> RunColumns:
        """Queries in qid order, those without hits dropped (the form a TREC file reads back in)."""
        lengths = self.lengths.tolist()
        order = [i for i in sorted(range(len(self.qids)), key=self.qids.__getitem__) if lengths[i]]
        return self if order == list(range(len(self.qids))) else self.select(order)

    def docids(self) -> set[str]:
        """Every docid some hit names."""
        import numpy as np

        return set(self.names[np.unique(self.codes)].tolist())


def first_repeated_hit(queries: np.ndarray, codes: np.ndarray, n_names: int) -> int | None:
    """The position of the earliest hit whose (query, docid code) an earlier hit already has, or
    None: one sort of integer keys, no Python loop per hit."""
    import numpy as np

    if len(codes) < 2:
        return None
    keys = queries * max(n_names, 1) + codes
    order = np.argsort(keys, kind="stable")
    repeated = np.nonzero(keys[order][1:] == keys[order][:-1])[0]
    return int(order[1:][repeated].min()) if len(repeated) else None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building millions of tuples would otherwise trigger
    full collections that walk every object alive."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
