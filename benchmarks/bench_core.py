"""Benchmark: rankfw's core against what a user would otherwise call, measured in the same run.

- evaluation: ``rankfw.run.evaluate.evaluate`` vs ``ir_measures.calc_aggregate`` on the same run and
  qrels (nDCG@10, R@100), at three sizes; time ratio and peak memory of each (own process each);
- cold start: ``rankfw validate examples/quickstart.yaml`` (plugin loading + spec validation, no
  model, no JVM) vs a bare ``python -c pass``; target <= 0.5 s. Run with the bytecode cache on (in a
  temporary ``PYTHONPYCACHEPREFIX``, as an installed package has its ``.pyc`` files) even where
  ``PYTHONDONTWRITEBYTECODE`` is set; the row also gives the CPU seconds (user + system), which a
  busy machine inflates less than the wall time.

    python benchmarks/bench_core.py [--sizes 1000 5000 20000] [--json out.json]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import make_row, write_json

REPO = Path(__file__).resolve().parents[1]
MEASURES = ["nDCG@10", "R@100"]


def _data(n_queries: int, depth: int = 100, seed: int = 0) -> tuple[dict, dict]:
    rng = random.Random(seed)
    run = {f"q{q}": {f"d{rng.randrange(10 * depth)}": rng.random() for _ in range(depth)} for q in range(n_queries)}
    qrels = {q: {d: 1 for d in rng.sample(sorted(docs), 2)} | {"unseen": 1} for q, docs in run.items()}
    return run, qrels


def _time_evaluation(which: str, n_queries: int, queue: Any) -> None:
    run, qrels = _data(n_queries)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import ir_measures  # imported before timing on both sides

    if which == "rankfw":
        from rankfw.core.runs import Run
        from rankfw.run.evaluate import evaluate

        rankfw_run = Run.from_scores(run)
        start = time.perf_counter()
        values = evaluate(rankfw_run, qrels, MEASURES)
    else:
        measures = [ir_measures.parse_measure(m) for m in MEASURES]
        start = time.perf_counter()
        values = {str(k): v for k, v in ir_measures.calc_aggregate(measures, qrels, run).items()}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": seconds, "peak_rss_mb": peak / 1024, "delta_rss_mb": (peak - before) / 1024,
               "values": {k: round(v, 6) for k, v in values.items()}})


def measure(which: str, n_queries: int) -> dict[str, Any]:
    """Run one evaluation in a fresh process (so peak memory is its own)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_time_evaluation, args=(which, n_queries, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def cold_start(rounds: int) -> tuple[float, float, float, float]:
    """Median wall time and CPU time of ``rankfw validate`` on the quickstart, and of a bare interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="rankfw-pycache-")

    def timed(cmd: list[str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    validate = [sys.executable, "-m", "rankfw", "validate", "examples/quickstart.yaml"]
    bare = [sys.executable, "-c", "pass"]
    timed(validate)  # warm the file cache and write the bytecode
    ours, peer = [timed(validate) for _ in range(rounds)], [timed(bare) for _ in range(rounds)]
    return (statistics.median(w for w, _ in ours), statistics.median(c for _, c in ours),
            statistics.median(w for w, _ in peer), statistics.median(c for _, c in peer))


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000], help="queries (100 hits each)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process evaluations per side and size (best kept)")
    parser.add_argument("--json", type=Path, help="also write the result rows (JSON) here")
    args = parser.parse_args()
    rows = []
    print(f"{'benchmark':<28}{'size':>8}{'rankfw s':>10}{'peer s':>10}{'ratio':>8}{'rankfw MB':>11}{'peer MB':>9}  peer")
    for n in args.sizes:
        pairs = [(measure("rankfw", n), measure("ir_measures", n)) for _ in range(args.repeats)]  # interleaved
        ours, peer = (min(side, key=lambda r: r["seconds"]) for side in zip(*pairs))  # best of each: least noise
        same = all(abs(ours["values"][m] - peer["values"][m]) < 1e-9 for m in MEASURES)
        assert same, (ours, peer)
        memory = {"rankfw": ours["peak_rss_mb"], "peer": peer["peak_rss_mb"]}
        rows.append(make_row("evaluate", "ir_measures.calc_aggregate", n, f"{n:,} queries x 100 hits",
                             ours["seconds"], peer["seconds"], memory, same))
        print(f"{'evaluate (nDCG@10, R@100)':<28}{n:>8}{ours['seconds']:>10.3f}{peer['seconds']:>10.3f}"
              f"{rows[-1]['ratio']:>8.2f}{ours['peak_rss_mb']:>11.0f}{peer['peak_rss_mb']:>9.0f}"
              "  ir_measures.calc_aggregate")
    validate, cpu, bare, bare_cpu = cold_start(args.rounds)
    load = os.getloadavg()[0]
    verdict = f"target <= 0.5 s: {'met' if validate <= 0.5 else 'NOT met'}; CPU {cpu:.2f} s (bare {bare_cpu:.2f} s), load {load:.1f}"
    rows.append(make_row("validate cold start", "python -c pass", 1, "examples/quickstart.yaml", validate, bare,
                         target_s=0.5, cpu_s=cpu, peer_cpu_s=bare_cpu, load=load, note=verdict))
    print(f"{'validate cold start':<28}{'':>8}{validate:>10.3f}{bare:>10.3f}{validate / bare:>8.2f}{'':>11}{'':>9}"
          f"  python -c pass ({verdict})")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
