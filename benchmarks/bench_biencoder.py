"""Speed of the ``biencoder`` reranker against sentence-transformers ``encode`` of the same texts,
on every backend sentence-transformers has.

    python benchmarks/bench_biencoder.py [--model bundled:multilingual-e5-small] [--lang de]
        [--sizes 300 1000 3000] [--depth 10] [--rounds 2] [--systems "onnx int8" ...] [--cached]
        [--peer-python /work/venv-peer-onnx/bin/python /work/venv-peer/bin/python] [--json out.json]

Both sides use the same model files, batch size and length limit: the rerank stage (topics + a
``--depth``-candidate run per query -> a new run; embedding cache off) versus
``SentenceTransformer.encode`` of the distinct prefixed passages and queries plus the dot products.
Size N: N random distinct passages split into ``--depth`` candidates for each of N / depth dev
questions (``--lang``'s corpus first, then further XQuAD-R languages' where it has too few).
Rounds alternate the systems; the table shows the best round of each. ``--cached`` adds the rerank
with the embedding cache warm (largest size). Peak memory: each side once at the largest size,
model load included, in its own process.

rankfw systems (``--systems``): the stage with ``backend: torch`` (fp32), ``onnx fp32``, ``onnx
int8``, ``openvino fp32``, ``openvino bf16`` and ``openvino int8`` (the onnx int8 model in OpenVINO,
its other layers in bf16 on a bf16 CPU). The peer: ``backend="torch"`` in this process (the stage's own loaded model object);
``"onnx"``, its ``export_dynamic_quantized_onnx_model`` output, ``"openvino"`` and its
``export_static_quantized_openvino_model`` output in the ``--peer-python`` interpreters
(``peer_st.py``, asked between this process's own timings). Targets: >= 1.5x the peer's torch throughput and >= 1.1x its fastest backend.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench_common import Peers, add_common_args, add_peer_args, make_row, peaks, write_json

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()
PEER = "sentence-transformers encode"


LANGS = ["de", "en", "es", "ar", "el", "hi", "ru", "th", "tr", "vi", "zh"]
"""XQuAD-R languages in the order their corpora are pooled when a size needs more passages than one has."""


class Inputs:
    """One size: ``n`` random distinct passages (``--lang``'s corpus first, then the next languages'
    of :data:`LANGS`, ids prefixed ``lang/``) as ``depth`` candidates for each of n / depth dev
    questions (pooled the same way), and the peer's prefixed texts."""

    def __init__(self, args: argparse.Namespace, n: int, tmp: Path, query_prefix: str, passage_prefix: str) -> None:
        langs = [args.lang] + [x for x in LANGS if x != args.lang]
        docs: list[dict[str, str]] = []
        topics: dict[str, str] = {}
        for lang in langs:
            if len(docs) >= n and len(topics) * args.depth >= n:
                break
            for line in (XQUAD / lang / "corpus.jsonl").read_text().splitlines():
                doc = json.loads(line)
                docs.append({**doc, "docid": f"{lang}/{doc['docid']}"})
            topics.update({f"{lang}/{q}": t for q, t in read_topics(XQUAD / lang / "topics.dev.tsv").items()})
        pooled = tmp / f"corpus-{len(docs)}.jsonl"
        if not pooled.exists():
            pooled.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        self.corpus = JsonlCorpus(pooled, tmp)
        pool = random.Random(0).sample([d["docid"] for d in docs], min(n, len(docs)))
        self.topics = dict(list(topics.items())[: -(-len(pool) // args.depth)])
        self.run = Run.from_scores({q: {d: 0.0 for d in pool[i * args.depth : (i + 1) * args.depth]}
                                    for i, q in enumerate(self.topics)})
        self.distinct = sorted(self.run.docids())
        texts = self.corpus.get_many(self.distinct)
        self.passages = [passage_prefix + texts[d].contents for d in self.distinct]
        self.queries = [query_prefix + self.topics[q] for q in self.run]
        self.label = f"{len(self.topics)} queries x {args.depth} cands, {len(self.distinct)} passages"

    def peer_input(self, n: int) -> dict[str, Any]:
        """This size for ``peer_st.py``: texts and, per query, its candidates' passage indices."""
        row = {d: i for i, d in enumerate(self.distinct)}
        return {"size": n, "passages": self.passages, "queries": self.queries,
                "candidates": [[row[d] for d, _ in self.run[q]] for q in self.run]}

    def by_query(self, values: list[float]) -> dict[str, dict[str, float]]:
        """The peer's flat scores (queries in order, candidates in order) as ``{qid: {docid: score}}``."""
        it = iter(values)
        return {q: {d: next(it) for d, _ in self.run[q]} for q in self.run}


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


def one_side(args: argparse.Namespace, tmp: Path) -> None:
    """``--side``: load the model and run one side once at the largest size (for its peak memory)."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    if args.side == "rankfw":
        component = reranker(args)
        encoder = component.encoder(ctx)
        inputs = Inputs(args, max(args.sizes), tmp, encoder.query_prefix, encoder.passage_prefix)
        component.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
        return
    from sentence_transformers import SentenceTransformer

    from rankfw.models import SAFE_LOADING

    model = SentenceTransformer(args.model, device="cpu", model_kwargs=SAFE_LOADING)
    model.max_seq_length = min(args.max_length, model.max_seq_length)
    prompts = getattr(model, "prompts", None) or {}
    inputs = Inputs(args, max(args.sizes), tmp, prompts.get("query", ""), prompts.get("passage", ""))
    plain(model, inputs, args.batch_size)


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--lang", default="de")
    parser.add_argument("--sizes", "--passages", dest="sizes", type=int, nargs="+", default=[300, 1000, 3000],
                        help="sizes (distinct passages)")
    parser.add_argument("--systems", nargs="+", default=["torch fp32", "onnx int8", "openvino bf16", "openvino int8"],
                        help="rankfw systems timed: 'BACKEND PRECISION' (torch fp32 always)")
    parser.add_argument("--depth", type=int, default=10, help="candidates per query")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--cached", action="store_true", help="also time the rerank with the embedding cache warm")
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    add_common_args(parser)
    add_peer_args(parser)
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
    """Time every system at every size (the peer's other backends in their interpreters), print, write rows."""
    ctx = StageContext("bench", args.lang, tmp, tmp / "cache")
    if "torch fp32" not in args.systems:
        args.systems.insert(0, "torch fp32")
    components = {system: reranker(args, system=system) for system in args.systems}
    encoder = components["torch fp32"].encoder(ctx)  # load once, outside the timings
    for component in components.values():
        component.encoder(ctx)
    print(f"{reference} on XQuAD-R {args.lang} (+ further languages' passages where one has too few), batch "
          f"{args.batch_size}, max_length {args.max_length}, {args.threads} threads, best of {args.rounds}")
    sizes = [Inputs(args, n, tmp, encoder.query_prefix, encoder.passage_prefix) for n in args.sizes]
    peers = Peers(args, "bi", args.model, [i.peer_input(n) for n, i in zip(args.sizes, sizes, strict=True)], tmp,
                  args.max_length)
    print(f"{'size':<40}{'system':<16}{'seconds':>9}{'texts/s':>9}{'vs ST':>7}  same scores")
    rows: list[dict[str, Any]] = []
    for n, inputs in zip(args.sizes, sizes, strict=True):  # rows printed and written size by size
        sides: dict[str, Any] = {"ST torch": partial(plain, encoder.model, inputs, args.batch_size)}
        sides.update({name: partial(c.rerank, inputs.topics, inputs.run, inputs.corpus, ctx)
                      for name, c in components.items()})
        sides.update({f"ST {b}": partial(peer_round, peers, b, n, inputs) for b in list(peers.backends)})
        times: dict[str, list[float]] = {name: [] for name in sides}
        results: dict[str, Any] = {}
        for r in range(args.rounds):
            for name in list(sides) if r % 2 == 0 else list(reversed(sides)):
                if name not in sides:
                    continue
                start = time.perf_counter()
                results[name] = sides[name]()
                times[name].append(time.perf_counter() - start)
                if name.startswith("ST ") and name != "ST torch":  # the peer process's own time
                    if results[name] is None:  # its process died (peers printed why)
                        del times[name], results[name], sides[name]
                        continue
                    times[name][-1], results[name] = results[name]
        rows += size_rows(args, n, inputs, ctx, tmp, {k: min(v) for k, v in times.items()}, results, peers)
        write_json(args.json, rows)
    peers.close()
    last = next(r for r in rows if r["component"] == "biencoder" and r["size"] == max(args.sizes))
    if "rankfw_cached_s" in last:
        print(f"{'rankfw rerank, embeddings cached':<40}{last['rankfw_cached_s']:>10.2f}{last['peer_s']:>8.2f}"
              f"{last['rankfw_cached_s'] / last['peer_s']:>8.2f}")
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at the largest size (own process each, model included): rankfw {last['rankfw_peak_mb']:.0f} MB,"
              f" sentence-transformers {last['peer_peak_mb']:.0f} MB")


def peer_round(peers: Peers, backend: str, n: int, inputs: Inputs) -> tuple[float, dict[str, dict[str, float]]] | None:
    """One timing of a peer backend: its own seconds and its scores by query (None: its process died)."""
    got = peers.time(backend, n)
    return None if got is None else (got[0], inputs.by_query(got[1]))


def verdict(speedup: float, goal: float) -> str:
    """``"1.23x throughput (target >= 1.5x: NOT met)"``."""
    return f"{speedup:.2f}x throughput (target >= {goal:.1f}x: {'met' if speedup >= goal else 'NOT met'})"


def size_rows(args: argparse.Namespace, n: int, inputs: Inputs, ctx: StageContext, tmp: Path, best: dict[str, float],
              results: dict[str, Any], peers: Peers) -> list[dict[str, Any]]:
    """Print one size's systems; its rows: each rankfw system vs the peer's torch, and the fastest of each side."""
    texts = len(inputs.distinct) + len(inputs.queries)
    extra: dict[str, Any] = {"distinct_passages": len(inputs.distinct), "texts": texts, "all_systems_s": best,
                             "peer_versions": {b: e["versions"] for b, e in peers.backends.items()},
                             "load_avg": os.getloadavg()}
    memory = None
    if n == max(args.sizes):
        if args.cached:  # a second stage over the same passages, embedding cache on
            cached = reranker(args, cache=True)
            cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
            start = time.perf_counter()
            cached.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
            extra["rankfw_cached_s"] = time.perf_counter() - start
        passed = ["--model", args.model, "--lang", args.lang, "--sizes", str(n), "--depth", str(args.depth),
                  "--threads", str(args.threads), "--batch-size", str(args.batch_size),
                  "--max-length", str(args.max_length), "--tmp", str(tmp)]
        memory = peaks(__file__, passed, not args.no_memory)
    st_torch = best["ST torch"]
    rows = []
    for name, seconds in best.items():
        same = same_scores(results[name], results["ST torch"]) if not name.startswith("ST ") else None
        print(f"{inputs.label:<40}{name:<16}{seconds:>9.2f}{texts / seconds:>9.1f}{st_torch / seconds:>6.2f}x  "
              f"{'' if same is None else same}", flush=True)
        if name.startswith("ST "):
            continue
        fp32 = name.endswith("fp32")
        note = verdict(st_torch / seconds, 1.5) + ("" if fp32 else f" ({name}: quality in quality_onnx.py)")
        rows.append(make_row("biencoder" if name == "torch fp32" else f"biencoder {name}", PEER + " (torch)", n,
                             inputs.label, seconds, st_torch, memory if name == "torch fp32" else None,
                             same if fp32 else None, note=note, **extra))
    ours = [s for s in args.systems if s in best]
    fastest = min(ours, key=best.__getitem__)
    theirs = min((s for s in best if s.startswith("ST ")), key=best.__getitem__)
    listing = ", ".join(f"{s} {best[s]:.2f} s" for s in best if s.startswith("ST "))
    rows.append(make_row("biencoder fastest", f"{PEER} fastest backend", n, inputs.label, best[fastest], best[theirs],
                         note=f"rankfw {fastest} vs {theirs}: {verdict(best[theirs] / best[fastest], 1.1)}; {listing}",
                         system=fastest, peer_system=theirs, **extra))
    return rows


if __name__ == "__main__":
    main()
