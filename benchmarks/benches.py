"""The benchmark table of ``run_all.py``: every script, its ``--quick`` arguments and what its rows
compare, and the display names of the rows' components."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its name, file, its arguments for ``--quick`` (the full run uses the
    script's defaults), what its rows compare, whether it runs only when asked for."""

    name: str
    script: str
    quick: list[str]
    compares: str
    optional: bool = False


BENCHES = [
    Bench("bm25", "bench_bm25.py", ["--sizes", "1", "2", "3", "--rounds", "1"],
          "the `bm25` retrieve stage (opens the cached Lucene index, searches in batches, builds a Run) vs "
          "pyserini's `LuceneSearcher.batch_search` on the same index, topics, BM25(0.9, 0.4), k=100 and "
          "2 threads, hits turned into (docid, score) lists on both sides. Size N: the first N XQuAD-R "
          "languages' corpora concatenated (unique docids) and their dev questions, one analyzer (en)."),
    Bench("fusion", "bench_fusion.py", ["--queries", "100", "300", "1000"],
          "rankfw-fusion vs `ranx.fuse` on the same 5 random runs (100 hits per query), summed over six "
          "methods (RRF; CombSUM, CombMNZ, weighted sum with min-max; CombMAX with z-score; CombSUM of "
          "rank scores), plus rankfw building each input Run's columns once (`Run.columns()`); outputs "
          "checked to agree on a sample of 1,000 queries. rankfw's fused run holds columns and builds its "
          "Python hits when first read (timed apart in the script's output, not in the row); peak memory "
          "includes that read."),
    Bench("biencoder", "bench_biencoder.py", ["--passages", "20", "40", "80", "--depth", "5", "--rounds", "1"],
          "the `biencoder` rerank stage (embedding cache off) with `backend: torch` (fp32) and `backend: onnx` "
          "(fp32 and int8, outlier layers kept fp32) vs sentence-transformers `encode` (backend torch; its onnx "
          "backends where optimum is installed) of the same distinct prefixed passages and queries plus the dot "
          "products; same model (bundled multilingual-e5-small), batch 32, 2 threads; XQuAD-R de, N random "
          "passages as 10 candidates for each of N / 10 queries. int8 quality: `quality_onnx.py`."),
    Bench("crossencoder", "bench_crossencoder.py", ["--questions", "2", "4", "8", "--depth", "5", "--rounds", "1"],
          "the `crossencoder` rerank stage with `backend: torch` (fp32, int8) and `backend: onnx` (fp32, int8; "
          "int8 keeps the outlier layers fp32) vs sentence-transformers `CrossEncoder.predict` (backend torch; its "
          "onnx backends where optimum is installed) on the same (query, passage) pairs; model: "
          "multilingual-e5-small with a fresh 1-logit head (throughput does not depend on training), "
          "max_length 128, batch 32, 2 threads; XQuAD-R en, 10 candidates per question; fp32 scores checked "
          "equal within 1e-3; GFLOP/s of each system beside a torch GEMM's in the log."),
    Bench("core", "bench_core.py", ["--sizes", "200", "500", "1000", "--rounds", "2"],
          "`rankfw.run.evaluate.evaluate` vs `ir_measures.calc_aggregate` (nDCG@10, R@100) on the same "
          "random run (100 hits per query) and qrels, each side in its own process; and `rankfw validate "
          "examples/quickstart.yaml` (plugin loading and spec check, no model, no JVM) vs a bare "
          "`python -c pass` (target < 1 s)."),
    Bench("serve", "bench_serve.py", ["--requests", "16", "--clients", "1", "4", "16"],
          "one query through a trained pipeline with `rankfw.Searcher.search` (BM25 k=100 -> bundled "
          "multilingual-e5-small bi-encoder -> cross-encoder top 10 at int8 -> weighted fusion; XQuAD-R en, the "
          "cross-encoder is e5-small with a fresh 1-logit head: no trained weights ship offline, speed does not "
          "depend on training): p50 / p95 against the sum of the stages' own component calls (ratio - 1 = the "
          "framework's overhead); its BM25 step vs pyserini `LuceneSearcher.search` and its cross-encoder step "
          "(int8) vs sentence-transformers `CrossEncoder.predict` (fp32) on the same 10 pairs; `rankfw serve` "
          "HTTP throughput at 4 and 16 concurrent clients vs 1 client (ratio < 1: more throughput), every "
          "answer checked against the in-process search."),
    Bench("ray", "bench_ray.py", ["--k", "5", "--rounds", "1"],
          "(only with `--ray`) one bi-encoder rerank stage under the Ray executor (2 actors x 1 CPU) vs the "
          "local executor (both rankfw; ratio = Ray / local).", optional=True),
    Bench("dense_scale", "bench_dense_scale.py",
          ["--sizes", "20000", "--queries", "200", "--encode", "100", "--factories", "Flat", "HNSW32", "IVF64,PQ32"],
          "(only with `--dense-scale`; its own table below) faiss index_factory indexes built from the dense "
          "retriever's float16 shards vs Flat: build time, search QPS, recall@100, peak RSS; and the real "
          "e5-small encoding throughput vs `SentenceTransformer.encode`.", optional=True),
    Bench("bm25_scale", "bench_bm25_scale.py", ["--sizes", "2000", "10000", "--queries", "200", "--k", "100", "--depth", "20"],
          "(only with `--bm25-scale`; its own table below) peak RSS and time of `rankfw run` BM25 -> bi-encoder "
          "rerank -> RRF over synthetic MIRACL-format corpora of growing size vs raw pyserini's index + "
          "`batch_search` in the same run.", optional=True),
]
DENSE = {"dense index", "dense encoding", "bm25 scale"}
"""Components with a README section of their own (``bench_dense_scale.py``, ``bench_bm25_scale.py``), not the main table."""
NAMES = {"bm25": "BM25 stage", "fusion": "fusion", "biencoder": "bi-encoder rerank",
         "biencoder onnx fp32": "bi-encoder rerank, onnx fp32", "biencoder onnx int8": "bi-encoder rerank, onnx int8",
         "crossencoder": "cross-encoder rerank", "crossencoder torch int8": "cross-encoder rerank, torch int8",
         "crossencoder onnx fp32": "cross-encoder rerank, onnx fp32",
         "crossencoder onnx int8": "cross-encoder rerank, onnx int8", "evaluate": "evaluation", "validate cold start": "validate cold start",
         "ray executor": "Ray executor", "core": "evaluation and validate cold start", "ray": "Ray executor",
         "serve": "search and serve", "serve-bm25": "search: BM25 step", "serve-ce": "search: cross-encoder step",
         "serve-p50": "search latency p50", "serve-p95": "search latency p95", "serve-1": "serve, 1 client",
         "serve-4": "serve, 4 clients", "serve-16": "serve, 16 clients"}
