"""Benchmark: rankfw-fusion against ranx.fuse on the same runs, with identical output checked.

Fuses ``--runs`` runs x Q queries x ``--docs`` hits (docids drawn from a pool of 3 x docs per
query) with each method of :data:`CASES`, timing rankfw's fuser (on rankfw Runs) and ``ranx.fuse``
(on ranx Runs built beforehand; its numba kernels are compiled before timing); best of
``--repeat``. One row per method and size, and a total per size (the sum over the methods) with
the ratio rankfw time / ranx time (below 1: rankfw is faster; the target at 5 runs x 20,000 queries
x 100 hits is 1/3 or less). rankfw's fuser reads each Run's columns (``Run.columns()``, built once
per run and kept): that build is timed on its own row and counted in the total. Its fused run holds
columns and builds its hits as Python objects when first read: reading it as
``qid -> {docid: score}`` (what evaluation takes) is timed too (``read s``, mean
per method), shown beside the total but not in it (ranx's result is a numba dict, not Python lists
either). Peak memory: each side building its runs and fusing them with RRF once at the largest
size, in its own process; rankfw's side then reads the fused run as Python dicts (printed in the
same run).

    python benchmarks/bench_fusion.py [--queries 1000 5000 20000] [--docs 100] [--runs 5] [--repeat 1]
        [--borda] [--json out.json]
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

from bench_common import add_common_args, make_row, peaks, write_json
from rankfw_fusion import FUSERS

from rankfw.core import Run, StageContext

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


def make_scores(n_runs: int, n_queries: int, n_docs: int, seed: int = 0) -> list[dict[str, dict[str, float]]]:
    """Random runs (qid -> docid -> score) with distinct scores; each query's docids come from a pool of 3 x n_docs."""
    rng = random.Random(seed)
    runs = []
    for _ in range(n_runs):
        scores = {}
        for q in range(n_queries):
            docs = rng.sample(range(3 * n_docs), n_docs)
            scores[f"q{q}"] = {f"doc{d}": rng.random() * 20 for d in docs}
        runs.append(scores)
    return runs


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def identical(ours: Run, theirs: Any, sample: int = 1000) -> bool:
    """Same queries; on ``sample`` of them (evenly spread) the same docids, scores within 1e-6 and
    our order a valid order of ranx's scores. (Converting all of a ranx Run to Python is slow.)"""
    if set(ours) != set(theirs.keys()):
        return False
    qids = sorted(ours)
    for qid in qids[:: max(1, len(qids) // sample)]:
        hits, reference = ours[qid], dict(theirs[qid])
        if {d for d, _ in hits} != set(reference):
            return False
        if any(abs(s - reference[d]) > 1e-6 for d, s in hits):
            return False
        ranx_scores = [reference[d] for d, _ in hits]
        if any(a < b - 1e-9 for a, b in pairwise(ranx_scores)):
            return False
    return True


def cases(args: argparse.Namespace) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(rankfw fuser, ranx method, ranx norm, ranx params) of every method measured."""
    out = []
    for name, norm, method, params in CASES + ([BORDA_CASE] if args.borda else []):
        params = dict(params)
        config: dict[str, Any] = {"norm": norm}
        if "weights" in params:
            params["weights"] = config["weights"] = params["weights"][: args.runs]
        out.append((f"{name}/{norm}", FUSERS[name](FUSERS[name].Config(**config)), method, RANX_NORMS[norm], params))
    return out


def one_side(args: argparse.Namespace) -> None:
    """``--side``: fuse with the first method (RRF) once at the largest size, one side only (its peak memory)."""
    scores = make_scores(args.runs, max(args.queries), args.docs)
    ctx = StageContext("bench", "en", Path(tempfile.gettempdir()), Path(tempfile.gettempdir()))
    if args.side == "rankfw":
        runs = [Run.from_scores(s) for s in scores]
        del scores
        fused = cases(args)[0][1].fuse(runs, ctx)
        fused.scores()  # what evaluation reads: the fused run's hits as Python objects
    else:
        import ranx

        ranx_runs = [ranx.Run(s) for s in scores]
        del scores
        _, _, method, norm, params = cases(args)[0]
        ranx.fuse(ranx_runs, norm=norm, method=method, params=params)


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, nargs="+", default=[1000, 5000, 20000], help="sizes (queries per run)")
    parser.add_argument("--docs", type=int, default=100, help="hits per query")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--borda", action="store_true", help="also time Borda (slow in ranx: use fewer queries)")
    add_common_args(parser)
    args = parser.parse_args()
    if args.side:
        one_side(args)
        return

    import ranx

    ctx = StageContext("bench", "en", Path(tempfile.gettempdir()), Path(tempfile.gettempdir()))
    rows = []
    print(f"{args.runs} runs x {args.docs:,} hits per query; best of {args.repeat}; ratio = rankfw / ranx")
    print(f"{'method':<16} {'queries':>8} {'rankfw s':>9} {'ranx s':>8} {'ratio':>6}  identical")
    for n in args.queries:
        scores = make_scores(args.runs, n, args.docs)
        runs = [Run.from_scores(s) for s in scores]
        ranx_runs = [ranx.Run(s) for s in scores]
        small = [ranx.Run(run.top(5).scores()) for run in runs]
        del scores
        total = {"rankfw": 0.0, "ranx": 0.0}
        all_same, methods = True, {}
        columns_s, _ = best_time(lambda: [run.columns() for run in runs], 1)  # once per run, then kept
        total["rankfw"] += columns_s
        print(f"{'Run.columns':<16} {n:>8,} {columns_s:>9.2f} {'-':>8} {'':>6}  (once per input run)", flush=True)
        read_s = []
        for label, fuser, method, norm, params in cases(args):
            ranx.fuse(small, norm=norm, method=method, params=params)  # compile numba kernels
            ours_s, ours = best_time(partial(fuser.fuse, runs, ctx), args.repeat)
            theirs_s, theirs = best_time(partial(ranx.fuse, ranx_runs, norm=norm, method=method, params=params),
                                         args.repeat)
            start = time.perf_counter()
            ours.scores()  # the fused run's hits as Python dicts (its first read builds them)
            read_s.append(time.perf_counter() - start)
            same = identical(ours, theirs)
            all_same &= same
            total["rankfw"] += ours_s
            total["ranx"] += theirs_s
            methods[label] = {"rankfw_s": ours_s, "ranx_s": theirs_s, "same": same}
            print(f"{label:<16} {n:>8,} {ours_s:>9.2f} {theirs_s:>8.2f} {ours_s / theirs_s:>6.2f}  {same}", flush=True)
            del ours, theirs  # before the next method's fuse: one fused run alive at a time
        del runs, ranx_runs
        memory = None
        if n == max(args.queries):
            passed = ["--queries", str(n), "--docs", str(args.docs), "--runs", str(args.runs)]
            memory = peaks(__file__, passed + (["--borda"] if args.borda else []), not args.no_memory)
        rows.append(make_row("fusion", "ranx.fuse", n, f"{args.runs} runs x {n:,} queries x {args.docs} hits",
                             total["rankfw"], total["ranx"], memory, all_same,
                             methods=methods, columns_s=columns_s, read_s=sum(read_s) / len(read_s)))
        print(f"{'all methods':<16} {n:>8,} {total['rankfw']:>9.2f} {total['ranx']:>8.2f} "
              f"{total['rankfw'] / total['ranx']:>6.2f}  {all_same}   read s {sum(read_s) / len(read_s):.2f}",
              flush=True)
    last = rows[-1]
    print(f"at {last['label']}: rankfw is {1 / last['ratio']:.2f}x as fast as ranx.fuse (target >= 3x)")
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at {last['label']} (own process each): rankfw {last['rankfw_peak_mb']:.0f} MB, "
              f"ranx {last['peer_peak_mb']:.0f} MB (target: rankfw <= ranx)")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
