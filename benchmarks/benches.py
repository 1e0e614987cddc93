"""The benchmark table of ``run_all.py``: every script, its ``--quick`` arguments and what its rows
compare, and the display names of the rows' components."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    Bench("biencoder", "bench_biencoder.py", ["--sizes", "20", "40", "80", "--depth", "5", "--rounds", "1",
                                              "--peer-backends", "onnx", "openvino"],
          "the `biencoder` rerank stage (embedding cache off) with `backend: torch` (fp32), `backend: onnx` "
          "(int8: static, outlier layers kept fp32) and `backend: openvino` (the same exported ONNX model in "
          "OpenVINO: bf16 inference, and int8 = the onnx int8 model with its other layers in bf16) vs sentence-transformers `encode` of the same distinct prefixed "
          "passages and queries plus the dot products: backend torch in-process; `onnx`, its "
          "`export_dynamic_quantized_onnx_model` output (avx512_vnni), `openvino` (its default precision: bf16 on "
          "this AMX CPU), `openvino` at f32 and `export_static_quantized_openvino_model` in the peer environments "
          "(`--peer-python` / `RANKFW_PEER_PYTHON`, interleaved with the rankfw timings); same model files (bundled "
          "multilingual-e5-small), batch 32, 2 threads; N random passages (XQuAD-R de, then further languages) as "
          "10 candidates for each of N / 10 queries. Targets: >= 1.5x the peer's torch throughput, >= 1.1x its "
          "fastest backend (`fastest` rows). int8 / bf16 quality (`quality_onnx.py`: nDCG@10 over 10 hard candidates "
          "per question, every held-out training question of examples/xquad.yaml's fold 0, 11 languages): zero-shot "
          "e5-small fp32 .8939, onnx int8 -.0015, openvino int8 +.0004, openvino bf16 -.0000; the fine-tuned e5 of "
          "that fold (stage `ft_bi`) fp32 .9071, onnx int8 -.0008, openvino int8 +.0010, openvino bf16 -.0003."),
    Bench("crossencoder", "bench_crossencoder.py", ["--sizes", "10", "20", "40", "--depth", "5", "--rounds", "1",
                                                    "--peer-backends", "onnx", "openvino"],
          "the `crossencoder` rerank stage with `backend: torch` (fp32), `backend: onnx` (int8: static, outlier "
          "layers kept fp32) and `backend: openvino` (the same exported ONNX model in OpenVINO: bf16 inference, and "
          "int8 = the onnx int8 model with its other layers in bf16) vs sentence-transformers `CrossEncoder.predict` on the same (query, "
          "passage) pairs: backend torch in-process; `onnx`, its `export_dynamic_quantized_onnx_model` output, "
          "`openvino` (default precision: bf16 on this AMX CPU), `openvino` at f32 and "
          "`export_static_quantized_openvino_model` in the peer environments (`--peer-python` / "
          "`RANKFW_PEER_PYTHON`, interleaved with the rankfw timings); model: multilingual-e5-small with a fresh "
          "1-logit head (throughput does not depend on training), max_length 128, batch 32, 2 threads; XQuAD-R en, "
          "N pairs = 10 (12 at 3,000) candidates per question; fp32 scores checked equal within 1e-3. Targets: "
          ">= 2.0x the peer's torch throughput, >= 1.2x its fastest backend (`fastest` rows); `GFLOP/s` rows: the "
          "fastest system's model FLOPs (2 x linear weights + 4 x hidden x length per token and layer, unpadded) "
          "per second vs a torch fp32 GEMM measured in the same run (peer s = the same FLOPs at the GEMM's rate; "
          "bf16 / int8 on AMX run above the fp32 GEMM's peak). Quality: openvino bf16 scores within .002 of fp32 "
          "(the peer's openvino bf16: .001); openvino int8 runs the onnx int8 model (same calibration and outlier "
          "layers; within .017 of fp32, the peer's onnx-int8 .013); sentence-transformers' "
          "`export_static_quantized_openvino_model` output fails at inference here (RuntimeError in infer_request)."),
    Bench("core", "bench_core.py", ["--sizes", "200", "500", "1000", "--rounds", "2"],
          "`rankfw.run.evaluate.evaluate` vs `ir_measures.calc_aggregate` (nDCG@10, R@100) on the same "
          "random run (100 hits per query) and qrels, each side in its own process; and `rankfw validate "
          "examples/quickstart.yaml` (plugin loading and spec check, no model, no JVM; bytecode cached, as "
          "installed) vs a bare `python -c pass` (target <= 0.5 s; CPU seconds and load in the check column)."),
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
         "crossencoder onnx int8": "cross-encoder rerank, onnx int8",
         **{f"{kind} openvino {p}": f"{name} rerank, openvino {p}" for kind, name in
            (("biencoder", "bi-encoder"), ("crossencoder", "cross-encoder")) for p in ("fp32", "bf16", "int8")},
         "crossencoder fastest": "cross-encoder rerank, fastest vs fastest", "crossencoder GFLOP/s": "cross-encoder GFLOP/s",
         "biencoder fastest": "bi-encoder rerank, fastest vs fastest", "evaluate": "evaluation", "validate cold start": "validate cold start",
         "ray executor": "Ray executor", "core": "evaluation and validate cold start", "ray": "Ray executor",
         "serve": "search and serve", "serve-bm25": "search: BM25 step", "serve-ce": "search: cross-encoder step",
         "serve-p50": "search latency p50", "serve-p95": "search latency p95", "serve-1": "serve, 1 client",
         "serve-4": "serve, 4 clients", "serve-16": "serve, 16 clients"}

PEER_SETUP = r"""The strongest CPU peer of the two model rerankers is sentence-transformers' own `backend="onnx"` /
`"openvino"` (and their int8 exports). Their optimum packages pin transformers versions other than
rankfw's (optimum-onnx 0.1.0: transformers < 4.58; optimum-intel 2.2.0: transformers 5.5), so they
run in two environments of their own, each asked for one timing at a time between rankfw's
(`benchmarks/peer_st.py`), on the same model files, inputs and threads:

```bash
W=/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl   # torch 2.13.0 CPU, as rankfw's
python -m venv /work/venv-peer-onnx && /work/venv-peer-onnx/bin/pip install $W \
  "sentence-transformers[onnx]==5.7.0" "optimum-onnx[onnxruntime]==0.1.0" "onnxruntime==1.32.0"
python -m venv /work/venv-peer && /work/venv-peer/bin/pip install $W "sentence-transformers==6.2.0" \
  "optimum-intel[openvino]==2.2.0" "huggingface-hub==1.21.0" datasets && /work/venv-peer/bin/pip uninstall -y torchvision
export RANKFW_PEER_PYTHON=/work/venv-peer-onnx/bin/python:/work/venv-peer/bin/python   # or --peer-python A B
```"""
"""README: the peer environments of sentence-transformers' ONNX / OpenVINO backends (see ``peer_st.py``)."""


def merged_machines(record: dict[str, Any]) -> str:
    """The benchmarks whose rows were merged (``--add-rows``) on another machine than the full run's."""
    key = lambda m: (m.get("cpu"), m.get("simd"))
    other = [f"- {NAMES.get(n, n)}: {b['machine']['cpu']}, SIMD {', '.join(b['machine'].get('simd') or [])}, merged "
             f"{b['machine'].get('date', '?')}" for n, b in record["benchmarks"].items()
             if b.get("machine") and key(b["machine"]) != key(record["machine"])]
    return ("Rows merged later with `--add-rows` ran on another machine (compare them only with rows of their own run):\n"
            + "\n".join(other)) if other else ""
