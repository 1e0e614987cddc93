"""Speed of the ``crossencoder`` reranker against sentence-transformers ``CrossEncoder.predict``
(which also sorts by length), same model and pairs, in one run.

    python benchmarks/bench_crossencoder.py [--model PATH] [--run RUN.trec] [--language en]
        [--questions 5 10 30] [--depth 10] [--precisions fp32 int8 bf16] [--json out.json]

The rankfw side is the rerank stage (topics + a ``--depth``-candidate run -> a new run: corpus
lookups, scoring, ranking); the peer is ``CrossEncoder.predict`` on the same (query, passage) pairs,
prepared beforehand. The default model is ``bundled:multilingual-e5-small`` with a fresh 1-logit
head (seed 0), saved once to a temporary folder: throughput does not depend on training, so a
fresh clone needs nothing else. Candidates are drawn at random from the corpus unless ``--run``
gives a TREC run (then nDCG@10 of each precision is shown too). One size per ``--questions``
value; systems are timed ``--rounds`` times, interleaved, best round kept. ``same``: rankfw's fp32
scores equal the peer's within 1e-3. Peak memory: each side once at the largest size, model load
included, in its own process.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import add_common_args, make_row, peaks, write_json

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_qrels, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()
PEER = "sentence-transformers CrossEncoder.predict"


def fresh_cross_encoder(folder: Path) -> str:
    """``bundled:multilingual-e5-small`` with a fresh 1-logit head (seed 0), saved once under ``folder``."""
    target = folder / "e5-small-cross-encoder"
    if not (target / "config.json").exists():
        from rankfw_crossencoder_nmt.training.loop import load_for_training

        from rankfw.models import resolve_model

        model, tokenizer = load_for_training(resolve_model("bundled:multilingual-e5-small"), seed=0)
        scratch = folder / ".e5-small-cross-encoder.tmp"
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        scratch.rename(target)
    return str(target)


class Inputs:
    """One size: the first ``n`` dev questions, their candidates, and the peer's (query, passage) pairs."""

    def __init__(self, args: argparse.Namespace, n: int) -> None:
        root = XQUAD / args.language
        self.corpus = JsonlCorpus(root / "corpus.jsonl", args.tmp / "cache")
        self.topics = dict(list(read_topics(root / "topics.dev.tsv").items())[:n])
        self.qrels = {q: r for q, r in read_qrels(root / "qrels.dev.txt").items() if q in self.topics}
        if args.run is not None:
            run = Run.read_trec(args.run).top(args.depth)
            self.run = Run({q: run.get(q, []) for q in self.topics})
        else:
            docids, rng = [d.docid for d in self.corpus], random.Random(0)
            self.run = Run.from_scores({q: {d: 0.0 for d in rng.sample(docids, args.depth)} for q in self.topics})
        self.keys = [(q, d) for q in self.topics for d, _ in self.run.get(q, [])]
        docs = self.corpus.get_many({d for _, d in self.keys})
        self.pairs = [(self.topics[q], docs[d].contents) for q, d in self.keys]
        self.label = f"{len(self.pairs):,} pairs ({len(self.topics)} queries x {args.depth})"


def rankfw_side(args: argparse.Namespace, precision: str) -> tuple[Any, StageContext]:
    """The rerank component at ``precision``, its model loaded, and a context to run it in."""
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

    ctx = StageContext("bench", args.language, args.tmp, args.tmp / "cache")
    component = CrossEncoderReranker(CrossEncoderReranker.Config(
        model=args.model, k=args.depth, max_length=args.max_length, batch_size=args.batch_size, device="cpu",
        precision=precision))
    component.scorer(ctx)
    return component, ctx


def peer_side(args: argparse.Namespace) -> Any:
    """sentence-transformers' CrossEncoder on the same model, raw logit out."""
    import torch
    from sentence_transformers import CrossEncoder

    return CrossEncoder(args.model, device="cpu", max_length=args.max_length, activation_fn=torch.nn.Identity())


def ndcg10(scores: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 of ``scores``."""
    import ir_measures

    m = ir_measures.nDCG @ 10
    return float(ir_measures.calc_aggregate([m], qrels, scores)[m])


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="HF folder, hub id or bundled:NAME (default: e5-small, fresh 1-logit head)")
    parser.add_argument("--run", type=Path, help="candidates from this TREC run (default: random)")
    parser.add_argument("--language", default="en")
    parser.add_argument("--questions", type=int, nargs="+", default=[5, 10, 30], help="sizes (dev questions)")
    parser.add_argument("--depth", type=int, default=10, help="candidates per question")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precisions", nargs="+", default=["fp32"], help="rankfw precisions timed (fp32 int8 bf16)")
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    add_common_args(parser)
    args = parser.parse_args()

    import torch

    from rankfw.models import resolve_model

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if "fp32" not in args.precisions:
        args.precisions.insert(0, "fp32")
    with tempfile.TemporaryDirectory(prefix="bench-crossencoder-") as scratch:
        args.tmp = args.tmp or Path(scratch)
        args.model = resolve_model(args.model) if args.model else fresh_cross_encoder(args.tmp)
        if args.side:  # one side once at the largest size, model load included (for its peak memory)
            inputs = Inputs(args, max(args.questions))
            if args.side == "rankfw":
                component, ctx = rankfw_side(args, "fp32")
                component.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
            else:
                peer_side(args).predict(inputs.pairs, batch_size=args.batch_size)
        else:
            run(args)


def run(args: argparse.Namespace) -> None:
    """Time every system at every size, print the table, write the rows."""
    systems: dict[str, Any] = {"peer": peer_side(args)}
    for precision in args.precisions:
        systems[precision] = rankfw_side(args, precision)
    print(f"{args.language} dev questions, max_length {args.max_length}, batch {args.batch_size}, "
          f"{args.threads} thread(s), best of {args.rounds}; model {args.model}")
    print(f"{'size':<30}{'system':<14}{'seconds':>9}{'pairs/s':>9}{'vs ST':>7}" + (f"{'nDCG@10':>9}" if args.run else ""))
    rows = []
    for n in args.questions:
        inputs = Inputs(args, n)
        best: dict[str, float] = {}
        scores: dict[str, dict[str, dict[str, float]]] = {}
        for _ in range(args.rounds):
            for name, system in systems.items():
                started = time.perf_counter()
                if name == "peer":
                    values = system.predict(inputs.pairs, batch_size=args.batch_size)
                else:
                    reranked = system[0].rerank(inputs.topics, inputs.run, inputs.corpus, system[1])
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
                if name == "peer":
                    scores[name] = {}
                    for (q, d), v in zip(inputs.keys, np.asarray(values, dtype=float), strict=True):
                        scores[name].setdefault(q, {})[d] = float(v)
                else:
                    scores[name] = reranked.scores()
        diff = max(abs(scores["fp32"][q][d] - scores["peer"][q][d]) for q, d in inputs.keys)
        for name in systems:
            quality = f"{ndcg10(scores[name], inputs.qrels):>9.3f}" if args.run else ""
            print(f"{inputs.label:<30}{'ST fp32' if name == 'peer' else 'rankfw ' + name:<14}{best[name]:>9.2f}"
                  f"{len(inputs.pairs) / best[name]:>9.1f}{best['peer'] / best[name]:>6.2f}x{quality}", flush=True)
        memory = None
        if n == max(args.questions):
            passed = ["--model", args.model, "--language", args.language, "--questions", str(n), "--depth",
                      str(args.depth), "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
                      "--threads", str(args.threads), "--tmp", str(args.tmp)] + (["--run", str(args.run)] if args.run else [])
            memory = peaks(__file__, passed, not args.no_memory)
        rows.append(make_row("crossencoder", PEER, n, inputs.label, best["fp32"], best["peer"], memory, diff < 1e-3,
                             pairs=len(inputs.pairs), max_abs_score_diff=diff,
                             **{f"rankfw_{p}_s": best[p] for p in args.precisions if p != "fp32"}))
    last = rows[-1]
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at the largest size (own process each, model included): rankfw {last['rankfw_peak_mb']:.0f} MB,"
              f" sentence-transformers {last['peer_peak_mb']:.0f} MB")
    print(f"rankfw fp32 scores = sentence-transformers' within 1e-3: {all(r['same'] for r in rows)}")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
