"""Speed of the ``biencoder`` reranker against sentence-transformers ``encode`` of the same texts.

    python benchmarks/bench_biencoder.py [--model bundled:multilingual-e5-small] [--lang de]
        [--passages 300 1000] [--depth 10] [--rounds 2] [--systems "onnx int8" ...] [--cached] [--json out.json]

Both sides use the same loaded model, batch size and length limit, on one XQuAD-R language: the
rerank stage (topics + a ``--depth``-candidate run per query -> a new run; embedding cache off)
versus ``SentenceTransformer.encode`` of the distinct prefixed passages and queries plus the dot
products. One size per ``--passages`` value N: N random passages of the corpus split into
``--depth`` candidates for each of N / depth dev questions (every passage distinct). Rounds alternate the two; the table shows the best
round of each and the ratio rankfw / sentence-transformers (target <= 1.1). ``--cached`` adds the
rerank with the embedding cache warm (largest size). Peak memory: each side once at the largest
size, model load included, in its own process.

rankfw systems (``--systems``): the stage with ``backend: torch`` (fp32, the row the peer is
compared with first), ``onnx fp32`` and ``onnx int8``. The peer runs with ``backend="torch"``, and
``"onnx"`` plus its ``export_dynamic_quantized_onnx_model`` output where optimum is installed.
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
        docids = [d.docid for d in self.corpus]
        pool = random.Random(0).sample(docids, min(n, len(docids)))
        self.topics = dict(list(read_topics(XQUAD / args.lang / "topics.dev.tsv").items())[: -(-len(pool) // args.depth)])
        self.run = Run.from_scores({q: {d: 0.0 for d in pool[i * args.depth : (i + 1) * args.depth]}
                                    for i, q in enumerate(self.topics)})
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


def reranker(args: argparse.Namespace, cache: bool = False, system: str = "torch fp32") -> Any:
    """The rankfw component of ``system`` ("torch fp32", "onnx int8", ...), configured like the peer."""
    from rankfw_biencoder_distill import BiEncoderReranker

    backend, precision = system.split()
    return BiEncoderReranker(BiEncoderReranker.Config(model=args.model, batch_size=args.batch_size, device="cpu",
                                                      max_length=args.max_length, cache_embeddings=cache,
                                                      backend=backend, precision=precision))


def peer_model(args: argparse.Namespace, backend: str, tmp: Path) -> Any:
    """sentence-transformers on the model: ``backend`` torch, onnx, or onnx-int8 (its quantized export)."""
    from sentence_transformers import SentenceTransformer

    from rankfw.models import SAFE_LOADING

    if backend == "torch":
        model = SentenceTransformer(args.model, device="cpu", model_kwargs=SAFE_LOADING)
    else:
        model = SentenceTransformer(args.model, device="cpu", backend="onnx")
        if backend == "onnx-int8":
            from sentence_transformers import export_dynamic_quantized_onnx_model

            folder = tmp / "st-onnx"
            model.save(str(folder))
            export_dynamic_quantized_onnx_model(model, "avx2", str(folder))
            model = SentenceTransformer(str(folder), device="cpu", backend="onnx",
                                        model_kwargs={"file_name": "onnx/model_qint8_avx2.onnx"})
    model.max_seq_length = min(args.max_length, model.max_seq_length)
    return model


def one_side(args: argparse.Namespace, tmp: Path) -> None:
    """``--side``: load the model and run one side once at the largest size (for its peak memory)."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    if args.side == "rankfw":
        component = reranker(args)
        encoder = component.encoder(ctx)
        inputs = Inputs(args, max(args.passages), tmp, encoder.query_prefix, encoder.passage_prefix)
        component.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
        return
    from sentence_transformers import SentenceTransformer

    from rankfw.models import SAFE_LOADING

    model = SentenceTransformer(args.model, device="cpu", model_kwargs=SAFE_LOADING)
    model.max_seq_length = min(args.max_length, model.max_seq_length)
    prompts = getattr(model, "prompts", None) or {}
    inputs = Inputs(args, max(args.passages), tmp, prompts.get("query", ""), prompts.get("passage", ""))
    plain(model, inputs, args.batch_size)


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--passages", type=int, nargs="+", default=[300, 1000], help="sizes (distinct passages)")
    parser.add_argument("--systems", nargs="+", default=["torch fp32", "onnx fp32", "onnx int8"],
                        help="rankfw systems timed: 'BACKEND PRECISION' (torch fp32 always)")
    parser.add_argument("--peers", nargs="+", default=["torch", "onnx", "onnx-int8"],
                        help="sentence-transformers backends (onnx ones only where optimum is installed)")
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
    """Time every system at every size, print the table, write the rows."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    if "torch fp32" not in args.systems:
        args.systems.insert(0, "torch fp32")
    components = {system: reranker(args, system=system) for system in args.systems}
    encoder = components["torch fp32"].encoder(ctx)  # load once, outside the timings
    for component in components.values():
        component.encoder(ctx)
    try:
        import optimum.onnxruntime  # noqa: F401

        peers = args.peers
    except ImportError:
        peers = ["torch"]
        print("note: sentence-transformers backend='onnx' needs optimum[onnxruntime] (not installed); "
              "the peer's onnx rows are left out")
    models = {f"ST {b}": encoder.model if b == "torch" else peer_model(args, b, tmp) for b in peers}
    print(f"{reference} on XQuAD-R {args.lang}, batch {args.batch_size}, max_length {args.max_length}, "
          f"{args.threads} threads, best of {args.rounds}; ratio = rankfw / sentence-transformers torch")
    print(f"{'size':<40}{'system':<14}{'seconds':>9}{'texts/s':>9}{'vs ST':>7}  same scores")
    rows = []
    for n in args.passages:
        inputs = Inputs(args, n, tmp, encoder.query_prefix, encoder.passage_prefix)
        sides: dict[str, Any] = {name: partial(plain, model, inputs, args.batch_size) for name, model in models.items()}
        sides.update({name: partial(c.rerank, inputs.topics, inputs.run, inputs.corpus, ctx)
                      for name, c in components.items()})
        times: dict[str, list[float]] = {name: [] for name in sides}
        results: dict[str, Any] = {}
        for r in range(args.rounds):
            for name in list(sides) if r % 2 == 0 else reversed(sides):
                start = time.perf_counter()
                results[name] = sides[name]()
                times[name].append(time.perf_counter() - start)
        texts = len(inputs.distinct) + len(inputs.queries)
        memory = None
        extra: dict[str, Any] = {"distinct_passages": len(inputs.distinct), "all_rounds": times}
        if n == max(args.passages):
            if args.cached:  # a second stage over the same passages, embedding cache on
                cached = reranker(args, cache=True)
                cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
                start = time.perf_counter()
                cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
                extra["rankfw_cached_s"] = time.perf_counter() - start
            passed = ["--model", args.model, "--lang", args.lang, "--passages", str(n), "--depth", str(args.depth),
                      "--threads", str(args.threads), "--batch-size", str(args.batch_size),
                      "--max-length", str(args.max_length), "--tmp", str(tmp)]
            memory = peaks(__file__, passed, not args.no_memory)
        peer_s = min(times["ST torch"])
        for name in sides:
            best = min(times[name])
            same = same_scores(results[name], results["ST torch"]) if name in components else None
            print(f"{inputs.label:<40}{name:<14}{best:>9.2f}{texts / best:>9.1f}{peer_s / best:>6.2f}x  "
                  f"{'' if same is None else same}", flush=True)
            if name == "ST torch":
                continue
            fp32 = name.endswith("fp32") or name == "ST onnx"
            rows.append(make_row("biencoder" if name == "torch fp32" else f"biencoder {name}", PEER + " (torch)", n,
                                 inputs.label, best, peer_s, memory if name == "torch fp32" else None,
                                 same if fp32 else None, note=None if fp32 else f"{name}: see quality_onnx.py",
                                 texts=texts, **extra))
    last = next(r for r in rows if r["component"] == "biencoder")
    if "rankfw_cached_s" in last:
        print(f"{'rankfw rerank, embeddings cached':<40}{last['rankfw_cached_s']:>10.2f}{last['peer_s']:>8.2f}"
              f"{last['rankfw_cached_s'] / last['peer_s']:>8.2f}")
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at the largest size (own process each, model included): rankfw {last['rankfw_peak_mb']:.0f} MB,"
              f" sentence-transformers {last['peer_peak_mb']:.0f} MB")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
