"""Benchmark: one rerank stage under the local executor and under the Ray executor (2 workers).

The candidates are the test plugin's ``overlap`` retriever's top ``--k`` for the XQuAD-R dev
questions of one language; the stage re-ranks them with the ``biencoder`` reranker and the bundled
multilingual-e5-small (``--model``; any model reference works), embedding cache off so both sides
encode every passage. Local runs in this process with torch on ``--threads`` threads; Ray runs
``--workers`` actors with one CPU (one torch thread) each, so both use the same cores. Rounds
alternate between the two; the table shows the median, and Ray's time split into the one-off
``ray.init`` and the stage (actor start, model load per actor, shards, merge). The outputs are
checked to be the same ranking.

    python benchmarks/bench_ray.py [--lang en] [--k 30] [--rounds 2] [--workers 2] [--json out.json]

Not a peer comparison (both sides are rankfw), so ``benchmarks/run_all.py`` runs it only with ``--ray``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import make_row, write_json

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_topics
from rankfw.executors.local import LocalExecutor
from rankfw.testing import xquad_data


def same_ranking(a: Run, b: Run) -> bool:
    """Same queries, same docids in the same order, scores within float32 round-off."""
    return set(a) == set(b) and all(
        [d for d, _ in a[q]] == [d for d, _ in b[q]]
        and all(abs(x - y) <= 1e-5 * max(1.0, abs(x)) for (_, x), (_, y) in zip(a[q], b[q], strict=True))
        for q in a
    )


def main() -> None:
    """Run the benchmark, print its table, write the row (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en")
    parser.add_argument("--k", type=int, default=30, help="candidates per query")
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the local executor")
    parser.add_argument("--data", type=Path, default=xquad_data())
    parser.add_argument("--json", type=Path, help="also write the result row (JSON) here")
    args = parser.parse_args()

    import ray
    import torch
    from rankfw_biencoder_distill.reranker import BiEncoderReranker
    from rankfw_testplugin import OverlapRetriever

    from rankfw.executors.ray import RayExecutor
    from rankfw.models import resolve_model

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    corpus = JsonlCorpus(args.data / args.lang / "corpus.jsonl", tmp / "cache")
    topics = read_topics(args.data / args.lang / "topics.dev.tsv")
    ctx = StageContext("rerank", args.lang, tmp, tmp / "cache")
    candidates = LocalExecutor().retrieve(OverlapRetriever(OverlapRetriever.Config(k=args.k)), topics, corpus, ctx)
    pairs = sum(len(h) for h in candidates.values())
    # a bundled model is materialised once in the rankfw cache, not per run in the scratch folder
    config = BiEncoderReranker.Config(model=resolve_model(args.model), device="cpu", cache_embeddings=False)

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 1024**2)
    init_s = time.perf_counter() - t0
    on_ray = RayExecutor(num_workers=args.workers)

    times: dict[str, list[float]] = {"local": [], "ray": []}
    runs: dict[str, Run] = {}
    for _ in range(args.rounds):
        for name, executor in (("local", LocalExecutor()), ("ray", on_ray)):
            component = BiEncoderReranker(config)  # a fresh component: the model is loaded inside the timing
            start = time.perf_counter()
            runs[name] = executor.rerank(component, topics, candidates, corpus, ctx)
            times[name].append(time.perf_counter() - start)
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)

    local, remote = statistics.median(times["local"]), statistics.median(times["ray"])
    print(f"rerank stage: biencoder {args.model}, XQuAD-R {args.lang}: {len(topics)} queries, {pairs} pairs, "
          f"{len({d for h in candidates.values() for d, _ in h})} distinct passages; median of {args.rounds} rounds")
    print(f"{'executor':<34}{'seconds':>10}{'queries/s':>12}{'vs local':>10}")
    print(f"{'local (' + str(args.threads) + ' torch threads)':<34}{local:>10.2f}{len(topics) / local:>12.1f}{1.0:>10.2f}")
    print(f"{'ray (' + str(args.workers) + ' actors x 1 CPU)':<34}{remote:>10.2f}{len(topics) / remote:>12.1f}{remote / local:>10.2f}")
    print(f"{'ray.init (once per process)':<34}{init_s:>10.2f}")
    same = same_ranking(runs["local"], runs["ray"])
    print(f"same ranking: {same}")
    write_json(args.json, [make_row("ray executor", "local executor", len(topics), f"{len(topics)} queries x {args.k}",
                                    remote, local, None, same, ray_init_s=init_s, workers=args.workers)])


if __name__ == "__main__":
    main()
