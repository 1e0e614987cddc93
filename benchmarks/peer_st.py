"""The sentence-transformers side of the model benchmarks, served by the peer's own interpreter.

    PEER_PYTHON benchmarks/peer_st.py --kind ce|bi --model PATH --inputs IN.json --tmp DIR
        [--backends onnx onnx-int8 openvino openvino-int8] [--threads 2] [--batch-size 32] [--max-length 128]

sentence-transformers' ONNX and OpenVINO backends need optimum-onnx / optimum-intel, whose
releases pin transformers versions that the rankfw environment does not have, so
``bench_crossencoder.py`` and ``bench_biencoder.py`` start this script under ``--peer-python`` (or
``$RANKFW_PEER_PYTHON``), an interpreter of a separate environment (see benchmarks/README.md), and
ask it for one timing at a time, interleaved with their own rounds. It imports nothing of rankfw.

``IN.json``: a list of sizes, each ``{"size": N, "pairs": [[query, passage], ...]}`` (``--kind ce``)
or ``{"size": N, "passages": [...], "queries": [...], "candidates": [[passage index, ...] per
query]}`` (``--kind bi``, texts already prefixed). It loads every backend (and runs each once on
the first size), prints ``@@ {"ready": [...], "failed": {backend: why}, "versions": {...}}``, then
answers each stdin line ``{"backend": B, "size": N}`` with ``@@ {"seconds": S, "scores": [...]}``
(scores in input order: ce one raw logit per pair, bi the dot products of the normalised
embeddings, query by query) until stdin closes. ``openvino`` runs at OpenVINO's default precision
(bf16 on a CPU with AMX or avx512_bf16), ``openvino-f32`` with ``INFERENCE_PRECISION_HINT=f32``. ``onnx-int8`` is
``export_dynamic_quantized_onnx_model`` (``--int8-config``), ``openvino-int8`` is
``export_static_quantized_openvino_model`` calibrated on the first size's texts (a local dataset
folder; needs ``datasets``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any


def load(kind: str, model: str, backend: str, args: argparse.Namespace, calibration: list[str]) -> Any:
    """sentence-transformers' CrossEncoder (raw logit) or SentenceTransformer on ``backend``."""
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer

    base = backend.split("-")[0]
    kwargs: dict[str, Any] = {"device": "cpu"}
    model_kwargs: dict[str, Any] = {}
    if base == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        model_kwargs.update(session_options=options, provider="CPUExecutionProvider")
    elif base == "openvino":  # its CPU plugin runs bf16 where the CPU has AMX / avx512_bf16 unless told f32
        model_kwargs["ov_config"] = {"INFERENCE_NUM_THREADS": str(args.threads)}
        if backend == "openvino-f32":
            model_kwargs["ov_config"]["INFERENCE_PRECISION_HINT"] = "f32"

    def build(path: str, extra: dict[str, Any] | None = None) -> Any:
        mk = {**model_kwargs, **(extra or {})}
        if kind == "ce":
            return CrossEncoder(path, backend=base, max_length=args.max_length,
                                activation_fn=torch.nn.Identity(), model_kwargs=mk, **kwargs)
        m = SentenceTransformer(path, backend=base, model_kwargs=mk, **kwargs)
        m.max_seq_length = min(args.max_length, m.max_seq_length)
        return m

    loaded = build(model)
    if backend == "onnx-int8":
        from sentence_transformers import export_dynamic_quantized_onnx_model

        folder = Path(args.tmp) / f"{kind}-onnx"
        loaded.save_pretrained(str(folder))
        export_dynamic_quantized_onnx_model(loaded, args.int8_config, str(folder))
        loaded = build(str(folder), {"file_name": f"onnx/model_qint8_{args.int8_config}.onnx"})
    elif backend == "openvino-int8":
        from optimum.intel import OVQuantizationConfig
        from sentence_transformers import export_static_quantized_openvino_model

        folder, data = Path(args.tmp) / f"{kind}-openvino", Path(args.tmp) / "calibration"
        data.mkdir(parents=True, exist_ok=True)
        (data / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in calibration))
        loaded.save_pretrained(str(folder))
        export_static_quantized_openvino_model(
            loaded, OVQuantizationConfig(num_samples=min(300, len(calibration))), str(folder),
            dataset_name=str(data), dataset_config_name="default", dataset_split="train", column_name="text")
        loaded = build(str(folder), {"file_name": "openvino/openvino_model_qint8_quantized.xml"})
    return loaded


def score(kind: str, model: Any, item: dict[str, Any], batch_size: int) -> list[float]:
    """What a sentence-transformers user writes: ``predict`` the pairs, or ``encode`` + dot products."""
    import numpy as np

    if kind == "ce":
        return np.asarray(model.predict([tuple(p) for p in item["pairs"]], batch_size=batch_size), dtype=float).tolist()
    p = model.encode(item["passages"], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    q = model.encode(item["queries"], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return [float(v) for qi, rows in enumerate(item["candidates"]) for v in p[rows] @ q[qi]]


def version(dist: str) -> str | None:
    """The installed version of ``dist`` (None when it is not installed)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    """Load each backend, then time one (backend, size) per stdin line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["ce", "bi"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--backends", nargs="+", default=["onnx", "onnx-int8", "openvino", "openvino-int8"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--int8-config", default="avx512_vnni", help="export_dynamic_quantized_onnx_model config")
    parser.add_argument("--tmp", required=True)
    args = parser.parse_args()
    import warnings

    import torch

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    sizes = {item["size"]: item for item in json.loads(args.inputs.read_text())}
    first = next(iter(sizes.values()))
    calibration = [f"{q} {p}" for q, p in first["pairs"]] if args.kind == "ce" else first["passages"] + first["queries"]
    models, failed = {}, {}
    for backend in args.backends:
        try:
            models[backend] = load(args.kind, args.model, backend, args, calibration)
            score(args.kind, models[backend], first, args.batch_size)  # warm-up (first-call compilation)
        except Exception as error:  # noqa: BLE001  (a backend that cannot load here is reported, not fatal)
            models.pop(backend, None)
            failed[backend] = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:300]}"
    versions = {d: version(d) for d in ("sentence-transformers", "transformers", "torch", "onnxruntime", "optimum",
                                        "optimum-onnx", "optimum-intel", "openvino")}
    reply({"ready": list(models), "failed": failed, "versions": versions})
    for line in sys.stdin:
        ask = json.loads(line)
        start = time.perf_counter()
        values = score(args.kind, models[ask["backend"]], sizes[ask["size"]], args.batch_size)
        reply({"seconds": time.perf_counter() - start, "scores": values})
    os._exit(0)  # skip interpreter teardown of the runtimes


def reply(message: dict[str, Any]) -> None:
    """One answer line on stdout (``@@ `` + JSON; libraries may print other lines)."""
    sys.stdout.write("@@ " + json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
