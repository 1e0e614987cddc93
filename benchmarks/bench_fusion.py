"""Benchmark: rankfw-fusion against ranx.fuse on the same runs, with identical output checked.

Fuses 5 runs x 1,000 queries x 1,000 hits (docids drawn from a pool of 3,000 per query) with
each method, timing rankfw's fuser (on rankfw Runs) and ``ranx.fuse`` (on ranx Runs built
beforehand; its numba kernels are compiled before timing). Prints one row per method and the
ratio ranx time / rankfw time (> 1: rankfw is faster).

    python benchmarks/bench_fusion.py [--queries 1000] [--docs 1000] [--runs 5] [--repeat 3] [--borda]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

from rankfw.core import Run, StageContext
from rankfw_fusion import FUSERS

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    # (rankfw fuser, rankfw norm, ranx method, ranx params)
    ("rrf", "none", "rrf", {"k": 60}),
    ("combsum", "min-max", "sum", {}),
    ("combmnz", "min-max", "mnz", {}),
    ("combmax", "z-score", "max", {}),
    ("weighted", "min-max", "wsum", {"weights": [0.3, 0.25, 0.2, 0.15, 0.1]}),
    ("combsum", "rank", "sum", {}),
]
BORDA_CASE = ("combsum", "borda", "sum", {})
"""ranx's Borda normalisation is quadratic in the list length (minutes at full size): opt-in."""

RANX_NORMS = {"none": None, "min-max": "min-max", "z-score": "zmuv", "rank": "rank", "borda": "borda"}


def make_runs(n_runs: int, n_queries: int, n_docs: int, seed: int = 0) -> list[Run]:
    """Random runs with distinct scores; each query's docids come from a pool of 3 x n_docs."""
    rng = random.Random(seed)
    runs = []
    for _ in range(n_runs):
        scores = {}
        for q in range(n_queries):
            docs = rng.sample(range(3 * n_docs), n_docs)
            scores[f"q{q}"] = {f"doc{d}": rng.random() * 20 for d in docs}
        runs.append(Run.from_scores(scores))
    return runs


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def identical(ours: Run, theirs: dict[str, dict[str, float]]) -> bool:
    """Same queries and docids, scores within 1e-6, our order a valid order of ranx's scores."""
    if set(ours) != set(theirs):
        return False
    for qid, hits in ours.items():
        reference = theirs[qid]
        if {d for d, _ in hits} != set(reference):
            return False
        if any(abs(s - reference[d]) > 1e-6 for d, s in hits):
            return False
        ranx_scores = [reference[d] for d, _ in hits]
        if any(a < b - 1e-9 for a, b in pairwise(ranx_scores)):
            return False
    return True


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--borda", action="store_true", help="also time Borda (slow in ranx: use fewer queries)")
    args = parser.parse_args()

    import ranx

    runs = make_runs(args.runs, args.queries, args.docs)
    ranx_runs = [ranx.Run(run.scores()) for run in runs]
    small = [ranx.Run(run.top(5).scores()) for run in runs]
    ctx = StageContext("bench", "en", Path(tempfile.gettempdir()), Path(tempfile.gettempdir()))
    print(f"{args.runs} runs x {args.queries:,} queries x {args.docs:,} hits; best of {args.repeat}")
    print(f"{'method':<10} {'norm':<8} {'rankfw s':>9} {'ranx s':>8} {'ratio':>6}  identical")
    for name, norm, method, params in CASES + ([BORDA_CASE] if args.borda else []):
        params = dict(params)
        if "weights" in params:
            params["weights"] = params["weights"][: args.runs]
        ranx_norm = RANX_NORMS[norm]
        ranx.fuse(small, norm=ranx_norm, method=method, params=params)  # compile numba kernels
        config: dict[str, Any] = {"norm": norm}
        if name == "weighted":
            config["weights"] = params["weights"]
        fuser = FUSERS[name](FUSERS[name].Config(**config))
        ours_s, ours = best_time(partial(fuser.fuse, runs, ctx), args.repeat)
        theirs_s, theirs = best_time(
            partial(ranx.fuse, ranx_runs, norm=ranx_norm, method=method, params=params), args.repeat
        )
        same = identical(ours, theirs.to_dict())
        print(f"{name:<10} {norm:<8} {ours_s:>9.2f} {theirs_s:>8.2f} {theirs_s / ours_s:>6.2f}  {same}")


if __name__ == "__main__":
    main()
