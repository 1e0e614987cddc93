"""All queries' input hits as dense arrays (runs x candidates), and ranking the fused scores.

A candidate is a (query, document) pair found in any input list. For run ``r`` and candidate
``j``: ``scores[r, j]`` is the normalised score (NaN when missing), ``present[r, j]`` whether the
run holds it (Borda fills every candidate in) and ``ranks[r, j]`` its 1-based position in the
run's list (``len + 1`` for a Borda-filled one, 0 when missing). The work per hit is done by C
loops (``map``, ``np.fromiter``) and numpy, never by a Python loop.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, count, pairwise
from operator import itemgetter

import numpy as np

from rankfw.core import Run
from rankfw_fusion.norms import NORMS, RANK_NORMS, Segments

Hit = tuple[str, float]
_DOCID, _SCORE = itemgetter(0), itemgetter(1)
TABLE_FREE = 1 << 20
"""Key-space size that always takes the table (a few MB) in :func:`_unique`, beside twice the keys."""


@dataclass
class FusionBlock:
    """The candidates of every query and their normalised scores in every input run."""

    qids: list[str]
    query: np.ndarray
    """Per candidate: its query's index in ``qids`` (ascending)."""
    docids: np.ndarray
    """Per candidate: its docid (object array of str)."""
    scores: np.ndarray
    present: np.ndarray
    ranks: np.ndarray

    def filled(self, value: float) -> np.ndarray:
        """``scores`` with missing entries set to ``value``."""
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
            self.docids[keep],
            self.scores[rows][:, keep],
            self.present[rows][:, keep],
            self.ranks[rows][:, keep],
        )


def query_ids(runs: Sequence[Run]) -> list[str]:
    """Every qid of ``runs``, in order of first appearance."""
    return list(dict.fromkeys(q for run in runs for q in run))


def fusion_block(
    runs: Sequence[Run], norm: str, depth: int | None = None, with_scores: bool = True
) -> FusionBlock:
    """Stack the first ``depth`` hits of every run for every query into a :class:`FusionBlock`.

    ``with_scores=False`` (a rank-based method) skips reading the raw scores, as do the
    rank-based normalisations.
    """
    with_scores = with_scores and norm not in RANK_NORMS
    qids = query_ids(runs)
    n_queries = len(qids)
    codes: defaultdict[str, int] = defaultdict(count().__next__)  # docid -> code, first seen first
    flat_runs = []
    for run in runs:  # one pass per run; the hits are read by C loops
        lists = [run.get(qid, ()) for qid in qids]
        if depth is not None:
            lists = [hits[:depth] for hits in lists]
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=n_queries)
        n_hits = int(lengths.sum())
        doc_codes = np.fromiter(
            map(codes.__getitem__, map(_DOCID, chain.from_iterable(lists))), dtype=np.int64, count=n_hits
        )
        if with_scores:
            raw = np.fromiter(map(_SCORE, chain.from_iterable(lists)), dtype=np.float64, count=n_hits)
        else:
            raw = np.zeros(n_hits)
        flat_runs.append((lengths, doc_codes, raw))
    n_codes = max(len(codes), 1)
    hit_query = [np.repeat(np.arange(n_queries), lengths) for lengths, _, _ in flat_runs]
    keys = np.concatenate([q * n_codes + c for q, (_, c, _) in zip(hit_query, flat_runs)] or [np.zeros(0, np.int64)])
    unique_keys, inverse = _unique(keys, n_queries * n_codes)
    cand_query = unique_keys // n_codes
    n_candidates = np.bincount(cand_query, minlength=n_queries)
    names = np.array(list(codes), dtype=object)
    docids = names[unique_keys % n_codes] if len(names) else np.zeros(0, dtype=object)

    n_runs, n_cands = len(runs), len(unique_keys)
    scores = np.full((n_runs, n_cands), np.nan)
    present = np.zeros((n_runs, n_cands), dtype=bool)
    ranks = np.zeros((n_runs, n_cands), dtype=np.int64)
    normalise = NORMS[norm]
    start = 0
    for r, ((lengths, _, raw), query) in enumerate(zip(flat_runs, hit_query)):
        cols = inverse[start : start + len(raw)]
        start += len(raw)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        segments = Segments(query, np.arange(len(raw)) - offsets[query], lengths, n_candidates)
        normalised = normalise(raw, segments)
        if normalised.missing is not None:
            scores[r] = normalised.missing[cand_query]
            present[r] = True
            ranks[r] = (lengths + 1)[cand_query]
        scores[r, cols] = normalised.scores
        present[r, cols] = True
        ranks[r, cols] = segments.position + 1
    return FusionBlock(qids, cand_query, docids, scores, present, ranks)


def _unique(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys in ``[0, key_space)``: by a table of the
    key space when it is small beside the number of keys (no sort), else by ``np.unique``."""
    if key_space > 2 * len(keys) + TABLE_FREE or key_space >= 1 << 31:
        return np.unique(keys, return_inverse=True)
    seen = np.zeros(key_space, dtype=bool)
    seen[keys] = True
    index = np.cumsum(seen, dtype=np.int32)
    return np.flatnonzero(seen), (index[keys] - 1).astype(np.int64)


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


def ranked_order(block: FusionBlock, fused: np.ndarray, k: int | None) -> tuple[np.ndarray, list[int]]:
    """The candidates in output order and each query's bounds in it: by query, by fused score
    (descending), ties by docid (as :class:`Run`), at most ``k`` per query."""
    lengths = np.bincount(block.query, minlength=len(block.qids))
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    # candidates are grouped by query: sorting each query's slice beats one global lexsort (cache)
    negated = -fused
    pieces = [np.argsort(negated[a:b], kind="stable") + a for a, b in pairwise(bounds) if b > a]
    order = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    _sort_ties(order, fused, block)
    if k is not None and (lengths > k).any():
        keep = np.arange(len(order)) - np.repeat(bounds[:-1], lengths) < k
        order, lengths = order[keep], np.minimum(lengths, k)
        bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    return order, bounds


def ranked_run(block: FusionBlock, fused: np.ndarray, k: int | None) -> Run:
    """The fused run: each query's candidates by fused score, ties by docid, cut at ``k``."""
    order, bounds = ranked_order(block, fused, k)
    names, values = block.docids[order].tolist(), fused[order].tolist()
    with gc_paused():
        return Run(
            {
                qid: list(zip(names[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]]))
                for i, qid in enumerate(block.qids)
            }
        )


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
    names = block.docids[members].astype(str)
    order[positions] = members[np.lexsort((names, group))]
