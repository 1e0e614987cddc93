"""The Run type (qid -> ranked docids with scores) and TREC run files."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankfw.core.errors import InputError
from rankfw.core.io import atomic_open

if TYPE_CHECKING:
    from rankfw.core.columns import RunColumns

Hit = tuple[str, float]


class Run(Mapping[str, list[Hit]]):
    """Ranked lists of documents per query: ``run[qid] -> [(docid, score), ...]`` in rank order.

    Rank order is decreasing score; ties are broken by docid (ascending) so that a run written
    twice is byte-identical. Build one with :meth:`from_scores` (any order) or :meth:`from_ranked`
    (already in rank order, e.g. read from a TREC file or returned by Lucene).

    A run also has a columnar form (:meth:`columns`, numpy arrays; built once and kept), which
    vectorised code such as fusion reads; a run made from columns (:meth:`from_columns`) builds its
    per-query lists on first use. A run is not modified after it is built (its lists included).
    """

    __slots__ = ("_hits", "_columns")

    def __init__(self, hits: dict[str, list[Hit]] | None = None) -> None:
        self._hits: dict[str, list[Hit]] | None = hits if hits is not None else {}
        self._columns: RunColumns | None = None

    @classmethod
    def from_columns(cls, columns: RunColumns) -> Run:
        """A run holding ``columns`` (kept as given; the per-query lists are built on first use)."""
        run = cls.__new__(cls)
        run._hits, run._columns = None, columns
        return run

    def columns(self) -> RunColumns:
        """The run as columns (:class:`~rankfw.core.columns.RunColumns`), built on first call."""
        if self._columns is None:
            from rankfw.core.columns import RunColumns

            self._columns = RunColumns.from_hits(self._lists())
        return self._columns

    def _lists(self) -> dict[str, list[Hit]]:
        """``qid -> hits``, built from the columns on first use."""
        if self._hits is None:
            assert self._columns is not None
            self._hits = self._columns.to_hits()
        return self._hits

    @classmethod
    def from_scores(cls, scores: Mapping[str, Mapping[str, float]], k: int | None = None) -> Run:
        """A run from ``qid -> {docid: score}``, sorted by score (desc) then docid, cut at ``k``."""
        hits: dict[str, list[Hit]] = {}
        for qid, docs in scores.items():
            ranked = sorted(((d, float(s)) for d, s in docs.items()), key=_rank_key)
            hits[qid] = ranked[:k] if k is not None else ranked
        return cls(hits)

    @classmethod
    def from_ranked(cls, hits: Mapping[str, list[Hit]]) -> Run:
        """A run from lists that are already in rank order (kept as given)."""
        return cls({q: [(d, float(s)) for d, s in h] for q, h in hits.items()})

    def __getitem__(self, qid: str) -> list[Hit]:
        return self._lists()[qid]

    def __iter__(self) -> Iterator[str]:
        if self._hits is None and self._columns is not None:
            return iter(self._columns.qids)
        return iter(self._lists())

    def __len__(self) -> int:
        if self._hits is None and self._columns is not None:
            return len(self._columns.qids)
        return len(self._lists())

    def __repr__(self) -> str:
        if self._hits is None and self._columns is not None:
            return f"Run({len(self._columns.qids)} queries, {self._columns.n_hits()} hits)"
        n = sum(len(h) for h in self._lists().values())
        return f"Run({len(self._lists())} queries, {n} hits)"

    def canonical(self) -> Run:
        """The run as its TREC file reads back: queries in sorted qid order, queries without hits dropped.

        A TREC file cannot hold a query without hits, so rankfw keeps a run in this form in memory
        too (what a later stage receives is the same whether its input was just computed or read
        back from disk after a resume).
        """
        if self._hits is None and self._columns is not None:
            canonical = self._columns.canonical()
            return self if canonical is self._columns else Run.from_columns(canonical)
        hits = self._lists()
        return Run({q: hits[q] for q in sorted(hits) if hits[q]})

    def top(self, k: int) -> Run:
        """The first ``k`` hits of every query."""
        if self._hits is None and self._columns is not None:
            return Run.from_columns(self._columns.top(k))
        return Run({q: h[:k] for q, h in self._lists().items()})

    def scores(self) -> dict[str, dict[str, float]]:
        """``qid -> {docid: score}`` (the form ir_measures and ranx take)."""
        if self._hits is None and self._columns is not None:
            return self._columns.to_scores()
        return {q: dict(h) for q, h in self._lists().items()}

    def iter_scores(self, qids: Iterable[str], max_hits: int = 16384) -> Iterator[dict[str, dict[str, float]]]:
        """``qid -> {docid: score}`` of the queries among ``qids`` that the run answers (in the order
        given), a group of queries holding about ``max_hits`` hits at a time: a consumer such as
        pytrec_eval then works on a few MB that stay in cache instead of a copy of the whole run."""
        if self._hits is None and self._columns is not None:
            yield from self._columns.iter_scores(qids, max_hits)
            return
        hits = self._lists()
        group: dict[str, dict[str, float]] = {}
        n = 0
        for qid in qids:
            ranked = hits.get(qid)
            if ranked is None:
                continue
            group[qid] = dict(ranked)
            n += len(ranked)
            if n >= max_hits:
                yield group
                group, n = {}, 0
        if group:
            yield group

    def docids(self) -> set[str]:
        """Every docid in the run."""
        if self._hits is None and self._columns is not None:
            return self._columns.docids()
        return {d for h in self._lists().values() for d, _ in h}

    def write_trec(self, path: str | os.PathLike[str], tag: str = "rankfw") -> None:
        """Write the run as a TREC run file (``qid Q0 docid rank score tag``), atomically, a query
        at a time (a run of millions of hits is never one string)."""
        with atomic_open(path) as f:
            f.writelines(self._trec_lines(tag))

    def to_trec(self, tag: str = "rankfw") -> str:
        """The run as TREC run text, queries in sorted qid order (see :meth:`canonical`)."""
        return "".join(self._trec_lines(tag))

    def _trec_lines(self, tag: str) -> Iterator[str]:
        from rankfw.core.trec import column_queries, list_queries, trec_lines

        if self._hits is None and self._columns is not None:
            return trec_lines(*column_queries(self._columns), tag)
        return trec_lines(*list_queries(self._lists()), tag)

    @classmethod
    def read_trec(cls, path: str | os.PathLike[str]) -> Run:
        """Read a TREC run file; hits are ordered by score (desc) then docid, as trec_eval does,
        queries by qid (the :meth:`canonical` form), held as columns (:mod:`rankfw.core.trec`).

        A malformed line raises :class:`InputError` naming the file and line.
        """
        from rankfw.core.trec import read_trec_columns

        return cls.from_columns(read_trec_columns(path))

    def to_pandas(self) -> Any:
        """The run as a pandas DataFrame with PyTerrier's columns ``qid, docno, score, rank``
        (one row per hit, in rank order; ``rank`` starts at 0 as in PyTerrier; a query without hits
        has no row)."""
        import pandas as pd

        rows = [(qid, docid, score, rank) for qid, hits in self._lists().items() for rank, (docid, score) in enumerate(hits)]
        frame = pd.DataFrame(rows, columns=["qid", "docno", "score", "rank"])
        return frame.astype({"qid": str, "docno": str, "score": "float64", "rank": "int64"})

    @classmethod
    def from_pandas(cls, frame: Any) -> Run:
        """A run from a DataFrame with columns ``qid, docno, score`` (PyTerrier's; other columns,
        ``rank`` included, are ignored): hits are ranked by score (desc) then docno."""
        missing = [c for c in ("qid", "docno", "score") if c not in getattr(frame, "columns", ())]
        if missing:
            raise InputError(f"the DataFrame lacks the column(s) {', '.join(missing)} (needs qid, docno, score)", "DataFrame")
        scores: dict[str, dict[str, float]] = {}
        for row, (qid, docid, score) in enumerate(zip(frame["qid"], frame["docno"], frame["score"], strict=True)):
            value = float(score)
            if not math.isfinite(value):
                raise InputError(f"score is not finite: {score!r}", f"DataFrame row {row}")
            docs = scores.setdefault(str(qid), {})
            if str(docid) in docs:
                raise InputError(f"document {str(docid)!r} appears twice for query {str(qid)!r}", f"DataFrame row {row}")
            docs[str(docid)] = value
        return cls.from_scores(scores)


def _rank_key(hit: Hit) -> tuple[float, str]:
    return (-hit[1], hit[0])


def read_run(path: str | Path) -> Run:
    """Read a TREC run file (see :meth:`Run.read_trec`)."""
    return Run.read_trec(path)
