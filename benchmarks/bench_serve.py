"""Serving a trained pipeline: one-query latency of BM25 -> bi-encoder (top 100) -> cross-encoder
(top 10, int8) -> weighted fusion, and HTTP throughput of ``rankfw serve`` at 1, 4 and 16 clients.

    python benchmarks/bench_serve.py [--requests 64] [--clients 1 4 16] [--work DIR] [--json out.json]

Setup (once per ``--work`` folder): ``rankfw run`` of a short spec over XQuAD-R en with the
models of examples/xquad.yaml's kinds: BM25 k=100, the bundled multilingual-e5-small as the
bi-encoder (ONNX Runtime fp32), and as the cross-encoder multilingual-e5-small with a fresh 1-logit
head (seed 0; no trained cross-encoder weights ship offline and latency does not depend on
training) at ONNX static int8 on the bi-encoder's top 10, fused with fixed weights 0.2 / 0.3 / 0.5. The corpus encoding is cached
before timing (what ``rankfw run`` leaves behind), so no passage is encoded per query.

Queries: the en training questions, never seen by the run (their embeddings are not cached); the
HTTP rounds use lower-cased / re-punctuated variants so that no round finds another's query
embeddings in the cache.

- latency: :meth:`rankfw.Searcher.search` one query at a time, in process; each stage's component
  call is timed too, so ``overhead = (total - stages) / stages`` is the framework's own cost;
- peers, on the same queries in the same run: pyserini ``LuceneSearcher.search`` (k=100) for the
  BM25 step, sentence-transformers ``CrossEncoder.predict`` (fp32, the same model) on the same 10
  (query, passage) pairs for the cross-encoder step;
- throughput: ``rankfw serve`` in a subprocess on 127.0.0.1, ``--requests`` requests from 1, 4 and
  16 concurrent httpx clients; every answer is checked against the in-process Searcher
  (:mod:`bench_serve_http`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench_common import add_common_args, make_row, write_json
from bench_serve_http import check, pct, throughput

from rankfw.testing import xquad_data

REPO = Path(__file__).resolve().parents[1]
LANG = "en"
WEIGHTS = [0.2, 0.3, 0.5]


def spec_text(work: Path, ce_model: str) -> str:
    return f"""name: bench-serve
output: {work / 'out'}
cache: {work / 'cache'}
dataset:
  root: {xquad_data()}
  languages: [{LANG}]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
stages:
  bm25:  {{kind: retrieve, component: bm25, params: {{k: 100}}}}
  bi:    {{kind: rerank, component: biencoder, inputs: [bm25], params: {{model: "bundled:multilingual-e5-small", backend: onnx}}}}
  ce:    {{kind: rerank, component: crossencoder, inputs: [bi], params: {{model: "{ce_model}", k: 10, max_length: 128, backend: onnx, precision: int8}}}}
  fused: {{kind: fuse, component: weighted, inputs: [bm25, bi, ce], params: {{weights: {WEIGHTS}}}}}
"""


def prepare(work: Path) -> Path:
    """The run folder (``rankfw run`` in its own process; reused when finished)."""
    from bench_crossencoder import fresh_cross_encoder

    work.mkdir(parents=True, exist_ok=True)
    spec = work / "spec.yaml"
    spec.write_text(spec_text(work, fresh_cross_encoder(work)))
    subprocess.run([sys.executable, "-m", "rankfw", "run", str(spec)], check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    return work / "out"


def query_pool(n: int, rounds: int) -> list[list[str]]:
    """``rounds`` lists of ``n`` distinct queries (training questions, then variants of them)."""
    from rankfw.data import read_training

    base = list(dict.fromkeys(ex.query for ex in read_training(xquad_data() / LANG / "train.jsonl.gz")))
    variants = [base, [q.lower() for q in base], [q.rstrip("?") + " ?" for q in base], [q.upper() for q in base],
                [f"{q.rstrip('?')}" for q in base]]
    pool = list(dict.fromkeys(q for v in variants for q in v))
    if len(pool) < n * rounds:
        raise SystemExit(f"only {len(pool)} distinct queries for {rounds} rounds of {n}")
    return [pool[i * n : (i + 1) * n] for i in range(rounds)]


class Timed:
    """Wraps each component's retrieve / rerank / fuse to add its seconds to ``self.seconds[stage]``."""

    def __init__(self, searcher: Any) -> None:
        self.seconds: dict[str, float] = {}
        engine = searcher.engine
        for name in engine.servable():
            component = engine.component(engine.pipeline.stages[name], LANG)
            method = {"retrieve": "retrieve", "rerank": "rerank", "fuse": "fuse"}[engine.pipeline.stages[name].spec.kind]
            setattr(component, method, self._wrap(name, getattr(component, method)))

    def _wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

        return timed


def latency(searcher: Any, queries: list[str]) -> dict[str, Any]:
    """Per-query wall time of search() and of each stage's component call."""
    timed = Timed(searcher)
    totals, stages, cpu, per_stage = [], [], [], {name: [] for name in searcher.engine.servable()}
    for q in queries:
        timed.seconds.clear()
        start, cpu_start = time.perf_counter(), time.process_time()
        searcher.search(q, k=10)
        totals.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        stages.append(sum(timed.seconds.values()))
        for name in per_stage:
            per_stage[name].append(timed.seconds.get(name, 0.0))
    overhead = [(t - s) / s for t, s in zip(totals, stages, strict=True)]
    return {"p50": pct(totals, 50), "p95": pct(totals, 95), "cpu_p50": pct(cpu, 50), "cpu_p95": pct(cpu, 95), "stages_p50": pct(stages, 50), "stages_p95": pct(stages, 95),
            "overhead_median": statistics.median(overhead), "overhead_total": sum(totals) / sum(stages) - 1,
            "per_stage_median": {n: statistics.median(v) for n, v in per_stage.items()}}


def peers(searcher: Any, queries: list[str]) -> dict[str, Any]:
    """pyserini LuceneSearcher.search for the BM25 step and CrossEncoder.predict on the ce stage's 10 pairs."""
    import torch
    from rankfw_bm25 import jvm
    from sentence_transformers import CrossEncoder

    from rankfw.core import StageContext

    engine = searcher.engine
    stage = engine.pipeline.stages["bm25"]
    bm25 = engine.component(stage, LANG)
    corpus = engine.runner.data[LANG].corpus
    ctx = StageContext("bm25", LANG, engine._work, engine.runner.cache_dir)
    index_dir, _ = bm25.index_for(corpus, LANG, bm25.threads(), ctx)
    jvm.start_jvm()
    from pyserini.search.lucene import LuceneSearcher

    lucene = LuceneSearcher(index_dir)
    lucene.set_language(LANG)
    lucene.set_bm25(0.9, 0.4)
    ce_model = engine.pipeline.stages["ce"].spec.params["model"]
    cross = CrossEncoder(ce_model, device="cpu", max_length=128, activation_fn=torch.nn.Identity())
    lucene_s, predict_s, same_bm25 = [], [], True
    for q in queries:
        start = time.perf_counter()
        hits = [(h.docid, h.score) for h in lucene.search(q, k=100)]
        lucene_s.append(time.perf_counter() - start)
        ours = engine.rank("bm25", LANG, {"q": q})["q"]
        same_bm25 &= [d for d, _ in ours] == [d for d, _ in hits]
        top = engine.rank("bi", LANG, {"q": q})["q"][:10]
        docs = engine.documents(LANG, [d for d, _ in top])
        pairs = [(q, docs[d].contents) for d, _ in top]
        start = time.perf_counter()
        cross.predict(pairs, batch_size=32, show_progress_bar=False)
        predict_s.append(time.perf_counter() - start)
    lucene.close()
    return {"lucene_median": statistics.median(lucene_s), "predict_median": statistics.median(predict_s),
            "same_bm25": same_bm25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64, help="queries per latency sample and per HTTP round")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, help="folder of the run and cache (reused; default: a temporary one)")
    add_common_args(parser)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        work = args.work or Path(scratch)
        out = prepare(work)
        run(args, out)


def run(args: argparse.Namespace, out: Path) -> None:
    import torch

    from rankfw import Searcher
    from rankfw.core import StageContext

    torch.set_num_threads(args.threads)
    pools = query_pool(args.requests, 1 + len(args.clients))
    searcher = Searcher.from_output(out, stage="fused", language=LANG)
    engine = searcher.engine
    bi = engine.component(engine.pipeline.stages["bi"], LANG)
    ctx = StageContext("bi", LANG, engine._work, engine.runner.cache_dir)
    encoder = bi.encoder(ctx)
    encoder.passages([d.contents for d in engine.runner.data[LANG].corpus])  # the cached corpus encoding
    if encoder.cache is not None:  # forget the timed queries' embeddings (an earlier run of this script cached them)
        with encoder.cache._store._db as db:
            db.executemany("DELETE FROM kv WHERE k = ?", [(encoder.cache.hash(encoder.query_prefix + q),)
                                                          for pool in pools for q in pool])
    searcher.warm_up()
    n = args.requests
    lat = latency(searcher, pools[0])
    stages = lat["per_stage_median"]
    print(f"one query, in process ({n} queries): p50 {lat['p50'] * 1000:.1f} ms, p95 {lat['p95'] * 1000:.1f} ms; "
          f"stages' own calls p50 {lat['stages_p50'] * 1000:.1f} ms; framework overhead median "
          f"{lat['overhead_median']:.1%} (all queries {lat['overhead_total']:.1%}); CPU time per query p50 "
          f"{lat['cpu_p50'] * 1000:.1f} ms, p95 {lat['cpu_p95'] * 1000:.1f} ms", flush=True)
    print("median per stage: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in stages.items()), flush=True)
    peer = peers(searcher, pools[0])
    print(f"peers: LuceneSearcher.search {peer['lucene_median'] * 1000:.1f} ms (same hits: {peer['same_bm25']}), "
          f"CrossEncoder.predict (fp32) on the 10 pairs {peer['predict_median'] * 1000:.1f} ms", flush=True)
    rounds = throughput(out, list(zip(args.clients, pools[1:], strict=True)))
    checks = [check(searcher, r) for r in rounds]
    for r, c in zip(rounds, checks, strict=True):
        print(f"{r['clients']:>2} client(s): {r['qps']:.1f} q/s, p50 {r['p50'] * 1000:.1f} ms, p95 {r['p95'] * 1000:.1f} ms, "
              f"{r['batches']} batches; answered {c['answered']}/{n}, equal to Searcher.search {c['exact']}/{n}, "
              f"same top hit {c['top1']}/{n}")
    pipeline = "bm25 -> bi (100) -> ce (10, int8) -> weighted"
    rows = [
        make_row("serve-bm25", "pyserini LuceneSearcher.search", n, f"{n} queries, one at a time, k=100",
                 stages["bm25"], peer["lucene_median"], same=peer["same_bm25"]),
        make_row("serve-ce", "sentence-transformers CrossEncoder.predict", n, f"10 pairs per query, {n} queries",
                 stages["ce"], peer["predict_median"], note="rankfw int8 in the pipeline, peer fp32"),
        make_row("serve-p50", "the stages' own calls", n, f"{pipeline}, one query (p50)", lat["p50"], lat["stages_p50"],
                 note=f"target <= 0.2 s: {'met' if lat['p50'] <= 0.2 else 'missed'}; overhead {lat['overhead_median']:.1%}; "
                      f"CPU {lat['cpu_p50'] * 1000:.0f} ms", cpu_s=lat["cpu_p50"], load=os.getloadavg()[0]),
        make_row("serve-p95", "the stages' own calls", n, f"{pipeline}, one query (p95)", lat["p95"], lat["stages_p95"],
                 note=f"target <= 0.4 s: {'met' if lat['p95'] <= 0.4 else 'missed'}; CPU {lat['cpu_p95'] * 1000:.0f} ms",
                 cpu_s=lat["cpu_p95"]),
    ]
    one = rounds[0]
    for r, c in zip(rounds, checks, strict=True):
        rows.append(make_row(f"serve-{r['clients']}", f"{one['clients']} client", n,
                             f"{n} HTTP requests, {r['clients']} client(s)", r["wall"], one["wall"],
                             note=f"{r['qps']:.1f} q/s (p50 {r['p50'] * 1000:.0f} ms); {c['answered']}/{n} answered, "
                                  f"{c['exact']}/{n} = Searcher", qps=r["qps"], p50=r["p50"], p95=r["p95"],
                             batches=r["batches"], **c))
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
