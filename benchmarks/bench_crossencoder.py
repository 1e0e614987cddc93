"""Rerank throughput of the ``crossencoder`` reranker's scorer vs sentence-transformers
``CrossEncoder.predict`` (which also sorts by length), same model and pairs, in one run; and the
nDCG@10 of each precision against fp32.

    python benchmarks/bench_crossencoder.py [--model runs/quality-crossencoder/models/finetune]
        [--run runs/quality-crossencoder/bm25/en.trec] [--language en] [--questions 40] [--depth 10]

Each system is timed ``--rounds`` times, interleaved, and its best round is kept (the machine is
shared). Prints a table: pairs/s, ratio vs sentence-transformers fp32, nDCG@10, change vs fp32.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rankfw.core import Run
from rankfw.core.data import JsonlCorpus, read_qrels, read_topics
from rankfw.testing import xquad_data

ROOT = Path(__file__).resolve().parents[1]
XQUAD = xquad_data()


def ndcg10(scores: np.ndarray, keys: list[tuple[str, str]], qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 of the pairs ``keys`` (qid, docid) scored ``scores``."""
    import ir_measures

    by_query: dict[str, dict[str, float]] = {}
    for (qid, docid), s in zip(keys, scores, strict=True):
        by_query.setdefault(qid, {})[docid] = float(s)
    m = ir_measures.nDCG @ 10
    return float(ir_measures.calc_aggregate([m], qrels, Run.from_scores(by_query).scores())[m])


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "runs" / "quality-crossencoder" / "models" / "finetune"))
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "quality-crossencoder" / "bm25" / "en.trec")
    parser.add_argument("--language", default="en")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8", "bf16"])
    args = parser.parse_args()

    import torch
    from rankfw_crossencoder_nmt.scoring import PairScorer, load_cross_encoder
    from sentence_transformers import CrossEncoder

    from rankfw.models import resolve_model

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    model = resolve_model(args.model)
    root = XQUAD / args.language
    corpus = JsonlCorpus(root / "corpus.jsonl", ROOT / "runs" / "bench-crossencoder-cache")
    topics = dict(list(read_topics(root / "topics.dev.tsv").items())[: args.questions])
    qrels = {q: r for q, r in read_qrels(root / "qrels.dev.txt").items() if q in topics}
    run = Run.read_trec(args.run).top(args.depth)
    keys = [(q, d) for q in topics for d, _ in run.get(q, [])]
    docs = corpus.get_many({d for _, d in keys})
    queries = [topics[q] for q, _ in keys]
    passages = [docs[d].contents for _, d in keys]

    systems: dict[str, Any] = {
        "sentence-transformers fp32": CrossEncoder(model, device="cpu", max_length=args.max_length,
                                                   activation_fn=torch.nn.Identity()),
    }
    for precision in args.precisions:
        m, tok = load_cross_encoder(model, "cpu", precision)
        systems[f"rankfw {precision}"] = PairScorer(m, tok, args.max_length, args.batch_size)

    def score(system: Any) -> np.ndarray:
        if isinstance(system, PairScorer):
            return system.score(queries, passages)
        return np.asarray(system.predict(list(zip(queries, passages)), batch_size=args.batch_size))

    best: dict[str, float] = {}
    results: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, system in systems.items():
            started = time.perf_counter()
            results[name] = score(system)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    peer = len(keys) / best["sentence-transformers fp32"]
    fp32 = ndcg10(results["rankfw fp32"], keys, qrels) if "rankfw fp32" in results else float("nan")
    print(f"{len(keys)} pairs ({len(topics)} {args.language} dev questions x BM25 top {args.depth}), "
          f"max_length {args.max_length}, batch {args.batch_size}, {args.threads} thread(s), best of {args.rounds}")
    print(f"model: {args.model}")
    print(f"{'system':<28}{'pairs/s':>10}{'vs ST':>8}{'nDCG@10':>9}{'vs fp32':>9}")
    for name in systems:
        rate = len(keys) / best[name]
        quality = ndcg10(results[name], keys, qrels)
        print(f"{name:<28}{rate:10.1f}{rate / peer:7.2f}x{quality:9.3f}{quality - fp32:+9.3f}")


if __name__ == "__main__":
    main()
