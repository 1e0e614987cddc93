"""All queries' input hits as dense arrays (runs x candidates), and ranking the fused scores.

A candidate is a (query, document) pair found in any input list. For run ``r`` and candidate
``j``: ``scores[r, j]`` is the normalised score (NaN when missing), ``present[r, j]`` whether the
run holds it (Borda fills every candidate in) and ``ranks[r, j]`` its 1-based position in the
run's list (``len + 1`` for a Borda-filled one, 0 when missing); a block holds either the scores
(for the methods that combine scores) or the ranks (RRF), never both. The work per hit is done by C
loops (``map``, ``np.fromiter``) and numpy, never by a Python loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count, pairwise

import numpy as np

from rankfw.core import Run, RunColumns
from rankfw_fusion.norms import NORMS, RANK_NORMS, Segments

TABLE_FREE = 1 << 20
"""Key-space size that always takes the table (a few MB) in :func:`_unique`, beside twice the keys."""
GRID_FREE = 1 << 16
"""Padding always allowed in :func:`_descending`'s grid, beside twice the candidates."""


@dataclass
class FusionBlock:
    """The candidates of every query and their normalised scores in every input run."""

    qids: list[str]
    query: np.ndarray
    """Per candidate: its query's index in ``qids`` (ascending)."""
    codes: np.ndarray
    """Per candidate: its docid's index in ``names``."""
    names: np.ndarray
    """The docids of every input run (object array of str)."""
    scores: np.ndarray | None
    """None in a block built for ranks only."""
    present: np.ndarray
    ranks: np.ndarray | None
    """None in a block built for scores."""
    missing: float = float("nan")
    """What ``scores`` holds where a run misses a candidate (NaN unless built with a ``fill``)."""

    @property
    def docids(self) -> np.ndarray:
        """Per candidate: its docid (object array of str)."""
        return self.names[self.codes]

    def filled(self, value: float) -> np.ndarray:
        """``scores`` with missing entries set to ``value`` (the block's own array, not to be
        modified, where it was built with that fill)."""
        assert self.scores is not None, "a block built for ranks holds no scores"
        if value == self.missing:
            return self.scores
        return np.where(self.present, self.scores, value)

    def select(self, rows: Sequence[int]) -> FusionBlock:
        """The block of the runs ``rows`` alone: their rows and the candidates they hold.

        Equal to building the block from those runs unless the normalisation looks at the other
        runs' candidates (Borda).
        """
        rows = list(rows)
        keep = self.present[rows].any(axis=0)
        return FusionBlock(
            self.qids,
            self.query[keep],
            self.codes[keep],
            self.names,
            None if self.scores is None else self.scores[rows][:, keep],
            self.present[rows][:, keep],
            None if self.ranks is None else self.ranks[rows][:, keep],
            self.missing,
        )


def query_ids(runs: Sequence[Run]) -> list[str]:
    """Every qid of ``runs``, in order of first appearance."""
    return list(dict.fromkeys(q for run in runs for q in run))


def fusion_block(
    runs: Sequence[Run], norm: str, depth: int | None = None, with_scores: bool = True,
    fill: float = float("nan"),
) -> FusionBlock:
    """Stack the first ``depth`` hits of every run for every query into a :class:`FusionBlock`.

    The hits are read from each run's columns (:meth:`Run.columns`, built once per run).
    ``with_scores``: the block holds the normalised scores (and no ranks); else the ranks alone.
    ``fill``: what the scores hold where a run misses a candidate (NaN: see :meth:`FusionBlock.filled`).
    """
    qids = query_ids(runs)
    n_queries = len(qids)
    vocabulary: defaultdict[str, int] = defaultdict(count().__next__)  # docid -> code, first seen first
    index = {qid: i for i, qid in enumerate(qids)}
    flat_runs = [_in_query_order(run.columns(), index, depth, vocabulary) for run in runs]
    n_codes = max(len(vocabulary), 1)
    hit_query = [np.repeat(np.arange(n_queries), lengths) for lengths, _, _ in flat_runs]
    keys = np.concatenate([q * n_codes + c for q, (_, c, _) in zip(hit_query, flat_runs)] or [np.zeros(0, np.int64)])
    unique_keys, inverse = _unique(keys, n_queries * n_codes)
    cand_query = unique_keys // n_codes
    n_candidates = np.bincount(cand_query, minlength=n_queries)
    names = np.empty(len(vocabulary), dtype=object)
    names[:] = list(vocabulary)

    n_runs, n_cands = len(runs), len(unique_keys)
    scores = np.full((n_runs, n_cands), fill) if with_scores else None
    present = np.zeros((n_runs, n_cands), dtype=bool)
    ranks = None if with_scores else np.zeros((n_runs, n_cands), dtype=np.int32)
    normalise = NORMS[norm]
    start = 0
    for r, ((lengths, _, raw), query) in enumerate(zip(flat_runs, hit_query)):
        cols = inverse[start : start + len(raw)]
        start += len(raw)
        segments = Segments.from_offsets(np.concatenate(([0], np.cumsum(lengths))), n_candidates)
        normalised = normalise(raw, segments)
        if normalised.missing is not None:
            present[r] = True
            if scores is not None:
                scores[r] = normalised.missing[cand_query]
            if ranks is not None:
                ranks[r] = (lengths + 1)[cand_query]
        present[r, cols] = True
        if scores is not None:
            scores[r, cols] = normalised.scores
        if ranks is not None:
            ranks[r, cols] = segments.position + 1
    return FusionBlock(qids, cand_query, unique_keys % n_codes, names, scores, present, ranks, fill)


def _in_query_order(
    columns: RunColumns, index: dict[str, int], depth: int | None, vocabulary: defaultdict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One run's hits as (hits per query of ``index``, docid code in ``vocabulary``, raw score),
    the queries in the order of ``index``, each cut at ``depth``."""
    n_queries = len(index)
    position = np.fromiter(map(index.__getitem__, columns.qids), dtype=np.int64, count=len(columns.qids))
    own = columns.lengths if depth is None else np.minimum(columns.lengths, depth)
    lengths = np.zeros(n_queries, dtype=np.int64)
    lengths[position] = own
    to_block = np.fromiter(map(vocabulary.__getitem__, columns.names), dtype=np.int64, count=len(columns.names))
    in_order = len(position) == n_queries and bool((position == np.arange(n_queries)).all())
    if in_order and (depth is None or bool((own == columns.lengths).all())):
        return lengths, to_block[columns.codes], columns.scores  # the common case: no reordering
    order = np.argsort(position, kind="stable")
    starts, kept = columns.offsets[:-1][order], own[order]
    first = np.cumsum(kept) - kept
    hits = np.repeat(starts - first, kept) + np.arange(int(kept.sum()))
    return lengths, to_block[columns.codes[hits]], columns.scores[hits]


def _unique(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys in ``[0, key_space)``: by a table of the
    key space when it is small beside the number of keys (no sort), else by ``np.unique``."""
    if key_space > 2 * len(keys) + TABLE_FREE or key_space >= 1 << 31:
        return np.unique(keys, return_inverse=True)
    seen = np.zeros(key_space, dtype=bool)
    seen[keys] = True
    inverse = np.cumsum(seen, dtype=np.int32)[keys]  # int32 (the table is < 2**31): half the memory
    inverse -= 1
    return np.flatnonzero(seen), inverse


def ranked_order(block: FusionBlock, fused: np.ndarray, k: int | None) -> tuple[np.ndarray, list[int]]:
    """The candidates in output order and each query's bounds in it: by query, by fused score
    (descending), ties by docid (as :class:`Run`), at most ``k`` per query."""
    lengths = np.bincount(block.query, minlength=len(block.qids))
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    # ties are ordered by docid next, so the sort need not be stable, except around NaN (never equal)
    kind = "stable" if np.isnan(fused).any() else "quicksort"
    order = _descending(-fused, block.query, lengths, bounds, kind)
    _sort_ties(order, fused, block)
    if k is not None and (lengths > k).any():
        keep = np.arange(len(order)) - np.repeat(bounds[:-1], lengths) < k
        order, lengths = order[keep], np.minimum(lengths, k)
        bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return order, bounds


def _descending(negated: np.ndarray, query: np.ndarray, lengths: np.ndarray, bounds: list[int],
                kind: str = "stable") -> np.ndarray:
    """Per query (candidates grouped by query), its candidates' indices by ``negated`` ascending
    (a sort of ``kind``): one row-wise sort of a queries x longest-list grid where the grid is small, else
    one sort per query's slice (candidates are grouped by query: this beats a global lexsort)."""
    n, width = len(negated), int(lengths.max()) if len(lengths) else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(lengths) * width > 2 * n + GRID_FREE:
        pieces = [np.argsort(negated[a:b], kind=kind) + a for a, b in pairwise(bounds) if b > a]
        return np.concatenate(pieces)
    starts = np.asarray(bounds[:-1], dtype=np.int64)
    grid = np.full((len(lengths), width), np.inf)
    grid[query, np.arange(n) - starts[query]] = negated
    columns = np.argsort(grid, axis=1, kind=kind)
    del grid
    # padding (inf) may precede real inf entries (unstable) or NaN: drop it by column
    return (columns + starts[:, None])[columns < lengths[:, None]]


def ranked_run(block: FusionBlock, fused: np.ndarray, k: int | None) -> Run:
    """The fused run: each query's candidates by fused score, ties by docid, cut at ``k`` (a run
    made from columns: its per-query lists are built when first read)."""
    order, bounds = ranked_order(block, fused, k)
    offsets = np.asarray(bounds, dtype=np.int64)
    return Run.from_columns(RunColumns(list(block.qids), offsets, block.codes[order], block.names, fused[order]))


def _sort_ties(order: np.ndarray, fused: np.ndarray, block: FusionBlock) -> None:
    """Reorder, in place, every run of equal scores within a query by docid."""
    score, query = fused[order], block.query[order]
    tie = (score[1:] == score[:-1]) & (query[1:] == query[:-1])
    if not tie.any():
        return
    in_group = np.zeros(len(order), dtype=bool)
    in_group[:-1] |= tie
    in_group[1:] |= tie
    positions = np.flatnonzero(in_group)
    starts_group = np.ones(len(positions), dtype=bool)
    starts_group[1:] = ~tie[positions[1:] - 1]
    group = np.cumsum(starts_group)
    members = order[positions]
    by_name, n_names = _name_ranks(block.codes[members], block.names)
    order[positions] = members[np.argsort(group * n_names + by_name)]  # distinct keys: any sort


def _name_ranks(codes: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, int]:
    """Per code of ``codes``, the rank of its docid among the distinct docids of ``codes`` (the
    docids sorted as Python sorts str, once each; the codes of ``names`` name distinct docids),
    and the number of those docids."""
    seen = np.zeros(len(names), dtype=bool)
    seen[codes] = True
    distinct = np.flatnonzero(seen)
    text = names[distinct].tolist()
    rank = np.zeros(len(names), dtype=np.int64)
    rank[distinct[sorted(range(len(text)), key=text.__getitem__)]] = np.arange(len(distinct))
    return rank[codes], len(distinct)
