"""Speed of the ``crossencoder`` reranker against sentence-transformers ``CrossEncoder.predict``
(which also sorts by length) on every backend it has, same model and pairs, in one run.

    python benchmarks/bench_crossencoder.py [--model PATH] [--run RUN.trec] [--language en]
        [--sizes 300 1000 3000] [--depth 10] [--systems "torch fp32" "onnx int8" ...]
        [--peer-python /work/venv-peer-onnx/bin/python /work/venv-peer/bin/python] [--json out.json]

The rankfw side is the rerank stage (topics + candidates -> a new run: corpus lookups, scoring,
ranking); the peer is ``CrossEncoder.predict`` on the same (query, passage) pairs, prepared
beforehand. The default model is ``bundled:multilingual-e5-small`` with a fresh 1-logit head (seed
0), saved once to a temporary folder: throughput does not depend on training, so a fresh clone
needs nothing else. Size N: N pairs, ``--depth`` candidates for each of N / depth dev questions
(more candidates per question where the language has too few questions), drawn at random from the
corpus unless ``--run`` gives a TREC run (then nDCG@10 of each system is shown too). Systems are
timed ``--rounds`` times, interleaved, best round kept. ``same``: rankfw's fp32 scores equal the
peer's within 1e-3. Peak memory: each side once at the largest size, model load included, in its
own process.

rankfw systems (``--systems``): ``torch fp32`` (the stage's default), ``torch int8``, ``onnx fp32``,
``onnx int8``, ``openvino fp32``, ``openvino bf16``, ``openvino int8`` (``backend``/``precision`` of the
stage; openvino int8 runs the onnx int8 model, its other layers in bf16 on a bf16 CPU). The peer: ``backend="torch"`` in this
process; ``"onnx"``, its ``export_dynamic_quantized_onnx_model`` output, ``"openvino"`` and its
``export_static_quantized_openvino_model`` output in the ``--peer-python`` interpreters
(``peer_st.py``, asked between this process's own timings; their optimum packages pin other
transformers versions). Targets: >= 2.0x the
peer's torch throughput and >= 1.2x its fastest backend. GFLOP/s: the model's FLOPs per pair (2 x
linear weights x tokens + 4 x hidden x tokens^2 per layer, on the unpadded tokens) over the time,
beside a torch fp32 GEMM's in the same run (a row per size).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import Peers, add_common_args, add_peer_args, make_row, peaks, write_json

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
    """One size: ``n`` (query, passage) pairs of dev questions and their candidates, and the peer's pairs."""

    def __init__(self, args: argparse.Namespace, n: int) -> None:
        root = XQUAD / args.language
        self.corpus = JsonlCorpus(root / "corpus.jsonl", args.tmp / "cache")
        topics = read_topics(root / "topics.dev.tsv")
        depth = max(args.depth, -(-n // len(topics)))
        self.topics = dict(list(topics.items())[: -(-n // depth)])
        self.qrels = {q: r for q, r in read_qrels(root / "qrels.dev.txt").items() if q in self.topics}
        if args.run is not None:
            run = Run.read_trec(args.run).top(depth)
            self.run = Run({q: run.get(q, []) for q in self.topics})
        else:
            docids, rng = [d.docid for d in self.corpus], random.Random(0)
            self.run = Run.from_scores({q: {d: 0.0 for d in rng.sample(docids, depth)} for q in self.topics})
        self.keys = [(q, d) for q in self.topics for d, _ in self.run.get(q, [])]
        docs = self.corpus.get_many({d for _, d in self.keys})
        self.pairs = [(self.topics[q], docs[d].contents) for q, d in self.keys]
        self.label = f"{len(self.pairs):,} pairs ({len(self.topics)} queries x {depth})"


def rankfw_side(args: argparse.Namespace, system: str, inputs: Inputs | None = None) -> tuple[Any, StageContext]:
    """The rerank component of ``system`` ("torch fp32", "onnx int8", ...), its model loaded (int8
    calibrated on the first 32 pairs, as the stage does), and a context to run it in."""
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

    backend, precision = system.split()
    ctx = StageContext("bench", args.language, args.tmp, args.tmp / "cache")
    component = CrossEncoderReranker(CrossEncoderReranker.Config(
        model=args.model, max_length=args.max_length, batch_size=args.batch_size, device="cpu",  # k: every candidate kept
        precision=precision, backend=backend, num_threads=args.threads))
    component.scorer(ctx, inputs.pairs[:32] if inputs is not None else None)
    return component, ctx


def peer_side(args: argparse.Namespace) -> Any:
    """sentence-transformers' CrossEncoder (backend torch) on the same model, raw logit out."""
    import torch
    from sentence_transformers import CrossEncoder

    return CrossEncoder(args.model, device="cpu", max_length=args.max_length, activation_fn=torch.nn.Identity())


def gflops_per_pair(model: str, lengths: list[int]) -> float:
    """The transformer's FLOPs (GFLOP) over pairs of these token lengths: 2 x linear weights per
    token and 4 x hidden x length per token for attention, per layer."""
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model)
    per_token = 2 * (4 * c.hidden_size**2 + 2 * c.hidden_size * c.intermediate_size)
    return sum(c.num_hidden_layers * (per_token * n + 4 * c.hidden_size * n * n) for n in lengths) / 1e9


def gemm_peak(threads: int, n: int = 1024, rounds: int = 10) -> float:
    """GFLOP/s of a torch fp32 n x n matmul on ``threads`` threads (best of ``rounds``)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


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
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000], help="sizes (pairs)")
    parser.add_argument("--depth", type=int, default=10, help="candidates per question")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--systems", nargs="+", default=["torch fp32", "onnx int8", "openvino bf16", "openvino int8"],
                        help="rankfw systems timed: 'BACKEND PRECISION' (torch fp32 always)")
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    add_common_args(parser)
    add_peer_args(parser)
    args = parser.parse_args()

    import torch

    from rankfw.models import resolve_model

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    if "torch fp32" not in args.systems:
        args.systems.insert(0, "torch fp32")
    with tempfile.TemporaryDirectory(prefix="bench-crossencoder-") as scratch:
        args.tmp = args.tmp or Path(scratch)
        args.model = resolve_model(args.model) if args.model else fresh_cross_encoder(args.tmp)
        if args.side:  # one side once at the largest size, model load included (for its peak memory)
            inputs = Inputs(args, max(args.sizes))
            if args.side == "rankfw":
                component, ctx = rankfw_side(args, "torch fp32")
                component.rerank(inputs.topics, inputs.run, inputs.corpus, ctx)
            else:
                peer_side(args).predict(inputs.pairs, batch_size=args.batch_size)
        else:
            run(args)


def timed(args: argparse.Namespace, systems: dict[str, Any], inputs: Inputs, n: int, peers: Peers) -> tuple[dict, dict]:
    """Best time and scores (``{qid: {docid: score}}``) of each system at one size, rounds interleaved."""
    best: dict[str, float] = {}
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for _ in range(args.rounds):
        for backend in list(peers.backends):
            got = peers.time(backend, n)
            if got is None:
                continue
            seconds, values = got
            best[f"ST {backend}"] = min(best.get(f"ST {backend}", float("inf")), seconds)
            scores[f"ST {backend}"] = by_query(inputs, values)
        for name, system in systems.items():
            started = time.perf_counter()
            if name.startswith("ST "):
                values = system.predict(inputs.pairs, batch_size=args.batch_size)
            else:
                reranked = system[0].rerank(inputs.topics, inputs.run, inputs.corpus, system[1])
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
            scores[name] = by_query(inputs, values) if name.startswith("ST ") else reranked.scores()
    return best, scores


def by_query(inputs: Inputs, values: Any) -> dict[str, dict[str, float]]:
    """Pair scores (in ``inputs.pairs`` order) as ``{qid: {docid: score}}``."""
    out: dict[str, dict[str, float]] = {}
    for (q, d), v in zip(inputs.keys, np.asarray(values, dtype=float), strict=True):
        out.setdefault(q, {})[d] = float(v)
    return out


def verdict(speedup: float, goal: float) -> str:
    """``"1.63x throughput (target >= 2.0x: NOT met)"``."""
    return f"{speedup:.2f}x throughput (target >= {goal:.1f}x: {'met' if speedup >= goal else 'NOT met'})"


def run(args: argparse.Namespace) -> None:
    """Time every system at every size (the peer's other backends in their interpreters), print, write rows."""
    first = Inputs(args, min(args.sizes))
    systems: dict[str, Any] = {"ST torch": peer_side(args)}
    for system in args.systems:
        systems[system] = rankfw_side(args, system, first)
    sizes = [Inputs(args, n) for n in args.sizes]
    peers = Peers(args, "ce", args.model, [{"size": n, "pairs": i.pairs} for n, i in zip(args.sizes, sizes, strict=True)],
                  args.tmp, args.max_length)
    peak = gemm_peak(args.threads)
    print(f"{args.language} dev questions, max_length {args.max_length}, batch {args.batch_size}, "
          f"{args.threads} thread(s), best of {args.rounds}; model {args.model}; torch fp32 GEMM {peak:.1f} GFLOP/s")
    tokenizer = systems[args.systems[0]][0].scorer().tokenizer
    print(f"{'size':<30}{'system':<18}{'seconds':>9}{'pairs/s':>9}{'vs ST':>7}{'GFLOP/s':>9}"
          + (f"{'nDCG@10':>9}" if args.run else ""))
    rows: list[dict[str, Any]] = []
    for n, inputs in zip(args.sizes, sizes, strict=True):  # rows printed and written size by size
        lengths = [len(x) for x in tokenizer([q for q, _ in inputs.pairs], [p for _, p in inputs.pairs],
                                             truncation="only_second", max_length=args.max_length)["input_ids"]]
        best, scores = timed(args, systems, inputs, n, peers)
        peak = max(peak, gemm_peak(args.threads))
        rows += size_rows(args, n, inputs, best, scores, gflops_per_pair(args.model, lengths), peak, peers)
        write_json(args.json, rows)
    peers.close()
    print(f"torch fp32 GEMM peak in this run: {peak:.1f} GFLOP/s (best of 10 n = 1024 matmuls before the timings "
          f"and after each size, {args.threads} threads)")
    last = next(r for r in rows if r["component"] == "crossencoder" and r["size"] == max(args.sizes))
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at the largest size (own process each, model included): rankfw {last['rankfw_peak_mb']:.0f} MB,"
              f" sentence-transformers {last['peer_peak_mb']:.0f} MB")
    print(f"rankfw fp32 scores = sentence-transformers' within 1e-3: {all(r['same'] for r in rows if r['same'] is not None)}")


def size_rows(args: argparse.Namespace, n: int, inputs: Inputs, best: dict[str, float], scores: dict, work: float,
              peak: float, peers: Peers) -> list[dict[str, Any]]:
    """Print one size's systems; its rows: each rankfw system vs the peer's torch, the fastest of each
    side, and the GFLOP/s of the fastest rankfw system vs the GEMM peak."""
    reference, st_torch = scores["ST torch"], best["ST torch"]
    memory = None
    if n == max(args.sizes):
        passed = ["--model", args.model, "--language", args.language, "--sizes", str(n), "--depth", str(args.depth),
                  "--max-length", str(args.max_length), "--batch-size", str(args.batch_size), "--threads",
                  str(args.threads), "--tmp", str(args.tmp)] + (["--run", str(args.run)] if args.run else [])
        memory = peaks(__file__, passed, not args.no_memory)
    rows, diffs, quality = [], {}, {}
    for name, seconds in best.items():
        diffs[name] = max(abs(scores[name][q][d] - reference[q][d]) for q, d in inputs.keys)
        quality[name] = ndcg10(scores[name], inputs.qrels) if args.run else None
        print(f"{inputs.label:<30}{name:<18}{seconds:>9.2f}{len(inputs.pairs) / seconds:>9.1f}"
              f"{st_torch / seconds:>6.2f}x{work / seconds:>9.1f}"
              + (f"{quality[name]:>9.3f}" if quality[name] is not None else ""), flush=True)
    extra = {"pairs": len(inputs.pairs), "all_systems_s": best, "max_abs_score_diff": diffs, "ndcg10": quality,
             "peer_versions": {b: e["versions"] for b, e in peers.backends.items()},
             "load_avg": os.getloadavg()}
    ours = [s for s in args.systems if s in best]
    for name in ours:
        fp32 = name.endswith("fp32")
        note = verdict(st_torch / best[name], 2.0) + ("" if fp32 else f"; scores within {diffs[name]:.3f} of fp32")
        rows.append(make_row("crossencoder" if name == "torch fp32" else f"crossencoder {name}", PEER + " (torch)",
                             n, inputs.label, best[name], st_torch, memory if name == "torch fp32" else None,
                             diffs[name] < 1e-3 if fp32 else None, note=note, gflops=work / best[name],
                             gemm_peak_gflops=peak, **extra))
    fastest = min(ours, key=best.__getitem__)
    theirs = min((s for s in best if s.startswith("ST ")), key=best.__getitem__)
    listing = ", ".join(f"{s} {best[s]:.2f} s (scores within {diffs[s]:.4f})" for s in best if s.startswith("ST "))
    rows.append(make_row("crossencoder fastest", f"{PEER} fastest backend", n, inputs.label, best[fastest],
                         best[theirs], note=f"rankfw {fastest} vs {theirs}: {verdict(best[theirs] / best[fastest], 1.2)};"
                         f" {listing}", system=fastest, peer_system=theirs, **extra))
    rows.append(make_row("crossencoder GFLOP/s", "torch fp32 GEMM at its peak, same FLOPs", n, inputs.label,
                         best[fastest], work / peak, note=f"rankfw {fastest} {work / best[fastest]:.1f} GFLOP/s = "
                         f"{work / best[fastest] / peak:.0%} of the GEMM's {peak:.0f} GFLOP/s (ST torch "
                         f"{work / st_torch:.1f})", gflops=work / best[fastest], gemm_peak_gflops=peak,
                         model_gflop=work, **extra))
    return rows


if __name__ == "__main__":
    main()
