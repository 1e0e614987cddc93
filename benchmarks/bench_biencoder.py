"""Speed of the ``biencoder`` reranker against sentence-transformers ``encode`` of the same texts.

    python benchmarks/bench_biencoder.py [--model bundled:multilingual-e5-small] [--lang de]
        [--queries 10 40 160] [--depth 10] [--rounds 2] [--cached] [--json out.json]

Both sides use the same loaded model, batch size and length limit, on one XQuAD-R language: the
rerank stage (topics + a ``--depth``-candidate run per query -> a new run; embedding cache off)
versus ``SentenceTransformer.encode`` of the distinct prefixed passages and queries plus the dot
products. One size per ``--queries`` value (candidates drawn at random from the corpus, so the
distinct passages grow with the queries). Rounds alternate the two; the table shows the best
round of each and the ratio rankfw / sentence-transformers (target <= 1.1). ``--cached`` adds the
rerank with the embedding cache warm (largest size). Peak memory: each side once at the largest
size, model load included, in its own process.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench_common import add_common_args, make_row, peaks, write_json

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()
PEER = "sentence-transformers encode"


class Inputs:
    """One size: the first ``n`` dev questions, ``depth`` random candidates each, and the peer's texts."""

    def __init__(self, args: argparse.Namespace, n: int, tmp: Path, query_prefix: str, passage_prefix: str) -> None:
        self.corpus = JsonlCorpus(XQUAD / args.lang / "corpus.jsonl", tmp)
        self.topics = dict(list(read_topics(XQUAD / args.lang / "topics.dev.tsv").items())[:n])
        docids = [d.docid for d in self.corpus]
        rng = random.Random(0)
        self.run = Run.from_scores({q: {d: 0.0 for d in rng.sample(docids, min(args.depth, len(docids)))}
                                    for q in self.topics})
        self.distinct = sorted(self.run.docids())
        docs = self.corpus.get_many(self.distinct)
        self.passages = [passage_prefix + docs[d].contents for d in self.distinct]
        self.queries = [query_prefix + self.topics[q] for q in self.run]
        self.label = f"{len(self.topics)} queries x {args.depth} cands, {len(self.distinct)} passages"


def plain(model: Any, inputs: Inputs, batch_size: int) -> dict[str, dict[str, float]]:
    """What a sentence-transformers user writes: encode the distinct texts, score by dot products."""
    import torch

    with torch.inference_mode():
        p = model.encode(inputs.passages, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        q = model.encode(inputs.queries, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    row = {d: i for i, d in enumerate(inputs.distinct)}
    scores = {}
    for qi, qid in enumerate(inputs.run):
        docids = [d for d, _ in inputs.run[qid]]
        scores[qid] = dict(zip(docids, (p[[row[d] for d in docids]] @ q[qi]).tolist(), strict=True))
    return scores


def same_scores(ours: Run, theirs: dict[str, dict[str, float]]) -> bool:
    """The same candidates per query, with scores within 1e-4."""
    return set(ours) == set(theirs) and all(
        {d for d, _ in ours[q]} == set(theirs[q]) and all(abs(s - theirs[q][d]) <= 1e-4 for d, s in ours[q])
        for q in ours)


def reranker(args: argparse.Namespace, cache: bool = False) -> Any:
    """The rankfw component, configured like the peer."""
    from rankfw_biencoder_distill import BiEncoderReranker

    return BiEncoderReranker(BiEncoderReranker.Config(model=args.model, batch_size=args.batch_size, device="cpu",
                                                      max_length=args.max_length, cache_embeddings=cache))


def one_side(args: argparse.Namespace, tmp: Path) -> None:
    """``--side``: load the model and run one side once at the largest size (for its peak memory)."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    if args.side == "rankfw":
        component = reranker(args)
        encoder = component.encoder(ctx)
        inputs = Inputs(args, max(args.queries), tmp, encoder.query_prefix, encoder.passage_prefix)
        component.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
        return
    from sentence_transformers import SentenceTransformer

    from rankfw.models import SAFE_LOADING

    model = SentenceTransformer(args.model, device="cpu", model_kwargs=SAFE_LOADING)
    model.max_seq_length = min(args.max_length, model.max_seq_length)
    prompts = model.prompts or {}
    inputs = Inputs(args, max(args.queries), tmp, prompts.get("query", ""), prompts.get("passage", ""))
    plain(model, inputs, args.batch_size)


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--queries", type=int, nargs="+", default=[10, 40, 160], help="sizes (dev questions)")
    parser.add_argument("--depth", type=int, default=10, help="candidates per query")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--cached", action="store_true", help="also time the rerank with the embedding cache warm")
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    add_common_args(parser)
    args = parser.parse_args()
    import torch

    from rankfw.models import resolve_model

    torch.set_num_threads(args.threads)
    reference, args.model = args.model, resolve_model(args.model)  # a bundled model: materialised once, in the cache
    with tempfile.TemporaryDirectory(prefix="bench-biencoder-") as scratch:
        tmp = args.tmp or Path(scratch)
        if args.side:
            one_side(args, tmp)
        else:
            run(args, reference, tmp)


def run(args: argparse.Namespace, reference: str, tmp: Path) -> None:
    """Time both sides at every size, print the table, write the rows."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    component = reranker(args)
    encoder = component.encoder(ctx)  # load once, outside the timings
    print(f"{reference} on XQuAD-R {args.lang}, batch {args.batch_size}, max_length {args.max_length}, "
          f"{args.threads} threads, best of {args.rounds}; ratio = rankfw / sentence-transformers")
    print(f"{'size':<40}{'rankfw s':>10}{'ST s':>8}{'ratio':>8}  same scores")
    rows = []
    for n in args.queries:
        inputs = Inputs(args, n, tmp, encoder.query_prefix, encoder.passage_prefix)
        sides = {"peer": partial(plain, encoder.model, inputs, args.batch_size),
                 "rankfw": partial(component.rerank, inputs.topics, inputs.run, inputs.corpus, ctx)}
        times: dict[str, list[float]] = {"peer": [], "rankfw": []}
        results: dict[str, Any] = {}
        for r in range(args.rounds):
            for name in list(sides) if r % 2 == 0 else reversed(sides):
                start = time.perf_counter()
                results[name] = sides[name]()
                times[name].append(time.perf_counter() - start)
        same = same_scores(results["rankfw"], results["peer"])
        extra: dict[str, Any] = {"distinct_passages": len(inputs.distinct), "all_rounds": times}
        memory = None
        if n == max(args.queries):
            if args.cached:  # a second stage over the same passages, embedding cache on
                cached = reranker(args, cache=True)
                cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
                start = time.perf_counter()
                cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
                extra["rankfw_cached_s"] = time.perf_counter() - start
            passed = ["--model", args.model, "--lang", args.lang, "--queries", str(n), "--depth", str(args.depth),
                      "--threads", str(args.threads), "--batch-size", str(args.batch_size),
                      "--max-length", str(args.max_length), "--tmp", str(tmp)]
            memory = peaks(__file__, passed, not args.no_memory)
        rows.append(make_row("biencoder", PEER, n, inputs.label, min(times["rankfw"]), min(times["peer"]), memory,
                             same, **extra))
        print(f"{inputs.label:<40}{rows[-1]['rankfw_s']:>10.2f}{rows[-1]['peer_s']:>8.2f}{rows[-1]['ratio']:>8.2f}"
              f"  {same}", flush=True)
    last = rows[-1]
    if "rankfw_cached_s" in last:
        print(f"{'rankfw rerank, embeddings cached':<40}{last['rankfw_cached_s']:>10.2f}{last['peer_s']:>8.2f}"
              f"{last['rankfw_cached_s'] / last['peer_s']:>8.2f}")
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at the largest size (own process each, model included): rankfw {last['rankfw_peak_mb']:.0f} MB,"
              f" sentence-transformers {last['peer_peak_mb']:.0f} MB")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
