"""Speed of the ``biencoder`` reranker against sentence-transformers ``encode`` of the same texts.

    python benchmarks/bench_biencoder.py [--model bundled:multilingual-e5-small] [--lang de] [--queries 100]

Both sides use the same loaded model, batch size and length limit, on one XQuAD-R language: the
rerank stage (topics + a 100-candidate run -> a new run; embedding cache off) versus
``SentenceTransformer.encode`` of the distinct prefixed passages and queries plus the dot products.
Rounds alternate the two; the table shows the best round of each and the ratio (target <= 1.1).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from rankfw.core import Run, StageContext
from rankfw.core.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from rankfw_biencoder_distill import BiEncoderReranker

    tmp = Path(tempfile.mkdtemp(prefix="bench-biencoder-"))
    corpus = JsonlCorpus(XQUAD / args.lang / "corpus.jsonl", tmp)
    topics = dict(list(read_topics(XQUAD / args.lang / "topics.dev.tsv").items())[: args.queries])
    docids = [d.docid for d in corpus]
    rng = random.Random(0)
    run = Run.from_scores({q: {d: 0.0 for d in rng.sample(docids, min(args.depth, len(docids)))} for q in topics})
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")

    reranker = BiEncoderReranker(
        BiEncoderReranker.Config(model=args.model, batch_size=args.batch_size, cache_embeddings=False, device="cpu")
    )
    encoder = reranker.encoder(ctx)  # load once, outside the timings
    model = encoder.model
    distinct = sorted(run.docids())
    docs = corpus.get_many(distinct)
    passages = [encoder.passage_prefix + docs[d].contents for d in distinct]
    queries = [encoder.query_prefix + topics[q] for q in run]

    def plain() -> None:
        with torch.inference_mode():
            p = model.encode(passages, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
            q = model.encode(queries, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        row = {d: i for i, d in enumerate(distinct)}
        for qi, qid in enumerate(run):
            p[[row[d] for d, _ in run[qid]]] @ q[qi]

    def stage() -> None:
        reranker.rerank(topics, run, corpus, ctx)

    times: dict[str, list[float]] = {"sentence-transformers encode": [], "rankfw biencoder rerank": []}
    for r in range(args.rounds):
        order = [("sentence-transformers encode", plain), ("rankfw biencoder rerank", stage)]
        for name, fn in order if r % 2 == 0 else reversed(order):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    # the same rerank with the embedding cache on: a second stage over the same passages
    cached = BiEncoderReranker(BiEncoderReranker.Config(model=args.model, batch_size=args.batch_size, device="cpu"))
    cached.rerank(topics, run, corpus, ctx)
    start = time.perf_counter()
    cached.rerank(topics, run, corpus, ctx)
    warm = time.perf_counter() - start

    peer = min(times["sentence-transformers encode"])
    print(f"\n{args.model} on XQuAD-R {args.lang}: {len(run)} queries x {args.depth} candidates, "
          f"{len(distinct)} distinct passages, batch {args.batch_size}, {args.threads} threads, best of {args.rounds}")
    print(f"{'system':<34}{'seconds':>10}{'ratio':>8}")
    for name, values in times.items():
        print(f"{name:<34}{min(values):10.2f}{min(values) / peer:8.2f}")
    print(f"{'rankfw rerank, embeddings cached':<34}{warm:10.2f}{warm / peer:8.2f}")
    print(f"all rounds: { {k: [round(v, 2) for v in vs] for k, vs in times.items()} }")


if __name__ == "__main__":
    main()
