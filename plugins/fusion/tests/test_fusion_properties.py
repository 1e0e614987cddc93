"""Invariants of the fusion methods, checked on generated runs (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rankfw_fusion import FUSERS
from rankfw_fusion.norms import NORMS

from rankfw.core import Run, StageContext

CTX = StageContext("fused", "en", Path("."), Path("."))
DOCIDS = st.text(alphabet="abcdefgh0123456789", min_size=1, max_size=4)


@st.composite
def runs(draw: st.DrawFn, distinct: bool = False) -> Run:
    """A run of 1-3 queries; ``distinct``: scores distinct and well apart (so normalising keeps them so)."""
    queries = draw(st.lists(st.sampled_from(["q1", "q2", "q3"]), min_size=1, max_size=3, unique=True))
    scores = {}
    for qid in queries:
        docs = draw(st.lists(DOCIDS, min_size=1, max_size=12, unique=True))
        if distinct:
            values = draw(st.lists(st.integers(-1000, 1000), min_size=len(docs), max_size=len(docs), unique=True))
        else:
            values = draw(st.lists(st.integers(-5, 5), min_size=len(docs), max_size=len(docs)))
        scores[qid] = {d: float(v) for d, v in zip(docs, values)}
    return Run.from_scores(scores)


def make(method: str, norm: str, n_runs: int) -> object:
    cls = FUSERS[method]
    extra = {"weights": [1.0 / n_runs] * n_runs} if method == "weighted" else {}
    return cls(cls.Config(norm=norm, **extra))


@settings(max_examples=60, deadline=None)
@given(run=runs(distinct=True), method=st.sampled_from(sorted(FUSERS)), norm=st.sampled_from(sorted(NORMS)))
def test_fusing_a_run_with_itself_keeps_its_order(run: Run, method: str, norm: str) -> None:
    fused = make(method, norm, 2).fuse([run, run], CTX)
    assert {q: [d for d, _ in h] for q, h in fused.items()} == {q: [d for d, _ in h] for q, h in run.items()}


@settings(max_examples=60, deadline=None)
@given(inputs=st.lists(runs(), min_size=2, max_size=4), data=st.data())
def test_rrf_does_not_depend_on_the_order_of_its_inputs(inputs: list[Run], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(inputs))
    rrf = make("rrf", "none", len(inputs))
    assert dict(rrf.fuse(shuffled, CTX)) == dict(rrf.fuse(inputs, CTX))


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.lists(runs(), min_size=1, max_size=4),
    method=st.sampled_from(sorted(FUSERS)),
    norm=st.sampled_from(sorted(NORMS)),
)
def test_fused_run_holds_every_candidate_once_in_rank_order(
    inputs: list[Run], method: str, norm: str
) -> None:
    fused = make(method, norm, len(inputs)).fuse(inputs, CTX)
    assert set(fused) == {q for run in inputs for q in run}
    for qid, hits in fused.items():
        docids = [d for d, _ in hits]
        assert sorted(docids) == sorted({d for run in inputs for d, _ in run.get(qid, [])})
        assert hits == sorted(hits, key=lambda h: (-h[1], h[0]))


@settings(max_examples=40, deadline=None)
@given(inputs=st.lists(runs(), min_size=2, max_size=3), k=st.integers(1, 5), depth=st.integers(1, 5))
def test_k_and_depth_cut_the_lists(inputs: list[Run], k: int, depth: int) -> None:
    full = make("combsum", "min-max", len(inputs))
    cut = FUSERS["combsum"](FUSERS["combsum"].Config(norm="min-max", k=k, depth=depth)).fuse(inputs, CTX)
    shallow = full.fuse([run.top(depth) for run in inputs], CTX)
    assert dict(cut) == {q: h[:k] for q, h in shallow.items()}


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.integers(0, 5000), max_size=300), sparse=st.booleans())
def test_both_ways_of_finding_the_candidates_agree_with_numpy(keys: list[int], sparse: bool) -> None:
    import numpy as np

    from rankfw_fusion.block import _unique

    array = np.array(keys, dtype=np.int64) * (10**9 if sparse else 1)  # sparse: too big a table, sorted instead
    expected, inverse = np.unique(array, return_inverse=True)
    got, got_inverse = _unique(array, int(array.max(initial=0)) + 1)
    assert got.tolist() == expected.tolist()
    assert got_inverse.tolist() == inverse.tolist()


def test_a_large_key_space_gives_the_same_fusion_as_a_small_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Docids unique to each query (many codes) take the sorting path; the fused run is unchanged."""
    import numpy as np

    from rankfw_fusion import block

    monkeypatch.setattr(block, "TABLE_FREE", 0)
    sorted_calls: list[int] = []
    original = np.unique

    def counted(*args: object, **kwargs: object) -> object:
        sorted_calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(np, "unique", counted)
    shared = [Run.from_scores({f"q{q}": {f"d{(q * 7 + j * r) % 50}": float(j + r) for j in range(20)} for q in range(30)})
              for r in range(1, 4)]
    unique = [Run.from_scores({q: {f"{q}-{d}": s for d, s in docs.items()} for q, docs in run.scores().items()})
              for run in shared]
    for method in ("rrf", "combsum"):
        fuser = make(method, "min-max", 3)
        small, large = fuser.fuse(shared, CTX), fuser.fuse(unique, CTX)
        assert {q: [(d.split("-", 1)[1], s) for d, s in h] for q, h in large.items()} == dict(small)
    assert len(sorted_calls) == 2  # the unique docids sorted, the shared ones by the table



@settings(max_examples=40, deadline=None)
@given(lists=st.lists(st.lists(st.integers(-3, 3), max_size=9), min_size=1, max_size=6), grid=st.booleans())
def test_both_ways_of_sorting_the_candidates_agree_with_lexsort(lists: list[list[int]], grid: bool) -> None:
    """The one-grid sort and the per-query sorts give each query's candidates by score, stable."""
    import numpy as np

    from rankfw_fusion import block

    lengths = np.array([len(values) for values in lists], dtype=np.int64)
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    query = np.repeat(np.arange(len(lists)), lengths)
    negated = np.array([float(v) for values in lists for v in values])
    negated[negated == 3] = np.nan  # a NaN sorts last in its query on both ways, as np.argsort
    old = block.GRID_FREE
    block.GRID_FREE = 1 << 20 if grid else -(1 << 20)
    try:
        order = block._descending(negated, query, lengths, bounds)
    finally:
        block.GRID_FREE = old
    assert order.tolist() == np.lexsort((np.arange(len(negated)), negated, query)).tolist()


@settings(max_examples=40, deadline=None)
@given(n_rows=st.integers(1, 10), n_cols=st.integers(0, 30), seed=st.integers(0, 1000))
def test_rrf_row_sort_network_equals_np_sort(n_rows: int, n_cols: int, seed: int) -> None:
    """RRF sums each candidate's contributions in sorted order; its sorting network (up to 8 runs)
    sorts each column as np.sort does, ties and infinities included."""
    import numpy as np

    from rankfw_fusion.rrf import sort_rows

    rng = np.random.default_rng(seed)
    values = rng.integers(-3, 4, size=(n_rows, n_cols)).astype(float) / 7
    values[values == 3 / 7] = np.inf
    expected = np.sort(values, axis=0)
    assert np.array_equal(sort_rows(values.copy()), expected)


@settings(max_examples=40, deadline=None)
@given(n_runs=st.integers(1, 10), n_cands=st.integers(0, 40), seed=st.integers(0, 1000),
       rrf_k=st.sampled_from([0.0, 1.0, 60.0]), fill=st.sampled_from([None, 0.5, -1.0, 2.0]))
def test_rrf_from_a_rank_table_equals_summing_the_sorted_reciprocal_ranks(
        n_runs: int, n_cands: int, seed: int, rrf_k: float, fill: float | None) -> None:
    """RRF reads its contributions from a table over ranks and sorts small integer keys: bit for bit
    the sorted sum of ``1 / (rrf_k + rank)`` (``fill`` where missing), whatever the fill's place."""
    import numpy as np

    from rankfw_fusion.block import FusionBlock

    rng = np.random.default_rng(seed)
    ranks = rng.integers(0, 30, size=(n_runs, n_cands)).astype(np.int32)
    present = ranks > 0
    block = FusionBlock(["q"], np.zeros(n_cands, np.int64), np.arange(n_cands), np.arange(n_cands).astype(str).astype(object),
                        None, present, ranks)
    fuser = FUSERS["rrf"](FUSERS["rrf"].Config(rrf_k=rrf_k, fill=fill))
    with np.errstate(divide="ignore"):
        contributions = 1.0 / (ranks.astype(np.float64) + rrf_k)
    contributions[~present] = 0.0 if fill is None else fill
    expected = np.sort(contributions, axis=0).sum(axis=0)
    assert fuser.combine(block).tobytes() == expected.tobytes()
