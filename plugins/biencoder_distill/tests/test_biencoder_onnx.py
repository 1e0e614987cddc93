"""The bi-encoder on its ONNX export, run by ONNX Runtime or OpenVINO: torch's vectors at fp32,
int8 with the outlier-layer cut, OpenVINO's bf16 and int8, a text alone as in a batch, the cache
keys per backend and precision, options validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from rankfw_biencoder_distill import BiEncoderReranker
from rankfw_biencoder_distill.encoder import Encoder
from rankfw_biencoder_distill.params import EncoderConfig
from rankfw_biencoder_distill.testing import context, xquad


def _encoder(model: Path, cache: Path, **params: object) -> Encoder:
    return Encoder(EncoderConfig(model=str(model), device="cpu", batch_size=8, cache_embeddings=False, **params), cache)


def _has_openvino() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


NEEDS_OPENVINO = pytest.mark.skipif(not _has_openvino(), reason="the openvino package is not installed")


@pytest.mark.parametrize("backend", ["onnx", pytest.param("openvino", marks=NEEDS_OPENVINO)])
def test_fp32_rerank_equals_torch(backend: str, tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("en", xquad_cache)
    docids = [d.docid for d in corpus][:40]
    from rankfw.core import Run

    run = Run.from_scores({q: {d: 0.0 for d in docids} for q in list(topics)[:5]})
    out = {}
    for name in ("torch", backend):
        config = BiEncoderReranker.Config(model=str(tiny_model), device="cpu", batch_size=8, backend=name)
        out[name] = BiEncoderReranker(config).rerank(topics, run, corpus, context(tmp_path))
    for qid, hits in out["torch"].items():
        expected, got = dict(hits), dict(out[backend][qid])
        assert set(got) == set(expected)
        assert max(abs(got[d] - expected[d]) for d in got) < 1e-3
    assert len(list((tmp_path / "cache" / "onnx").glob("*/model.onnx"))) == 1  # one export, whichever runtime


def test_onnx_int8_quantizes_all_but_the_outlier_layers(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    import onnx

    corpus, _, _ = xquad("en", xquad_cache)
    texts = [d.contents for d in corpus][:60]
    fp32 = _encoder(tiny_model, tmp_path, backend="onnx").encode(texts)
    int8 = _encoder(tiny_model, tmp_path, backend="onnx", precision="int8")
    kept = _encoder(tiny_model, tmp_path, backend="onnx", precision="int8", int8_outlier_ratio=1e-3)

    def ops(encoder: Encoder) -> set[str]:
        return {n.op_type for n in onnx.load(str(encoder.onnx.path)).graph.node}  # type: ignore[union-attr]

    assert "DequantizeLinear" in ops(int8)  # static int8 (QDQ)
    assert "DequantizeLinear" not in ops(kept)  # every input counts as an outlier: nothing quantized
    low = int8.encode(texts)
    assert low.shape == fp32.shape and not np.allclose(low, fp32, atol=1e-4)
    assert np.min(np.sum(low * fp32, axis=1)) > 0.95  # unit vectors: cosine to the fp32 vector
    assert np.abs(kept.encode(texts) - fp32).max() < 1e-4
    assert int8.key != kept.key != _encoder(tiny_model, tmp_path).key  # cached embeddings never mix


def test_onnx_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs backend onnx"):
        EncoderConfig(precision="int8")
    with pytest.raises(ValidationError, match="CPU"):
        EncoderConfig(backend="onnx", device="cuda")
    assert EncoderConfig(backend="onnx", precision="int8").precision == "int8"


@NEEDS_OPENVINO
def test_openvino_int8_and_bf16_and_one_text_alone(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, _, _ = xquad("en", xquad_cache)
    texts = [d.contents for d in corpus][:60]
    fp32 = _encoder(tiny_model, tmp_path, backend="openvino").encode(texts)
    ort8 = _encoder(tiny_model, tmp_path, backend="onnx", precision="int8")
    ov8 = _encoder(tiny_model, tmp_path, backend="openvino", precision="int8")
    bf16 = _encoder(tiny_model, tmp_path, backend="openvino", precision="bf16")
    assert ov8.onnx.path == ort8.onnx.path  # type: ignore[union-attr]  # the same calibrated QDQ model
    low = ov8.encode(texts)
    assert not np.allclose(low, fp32, atol=1e-4)  # int8 really ran
    assert np.min(np.sum(low * fp32, axis=1)) > 0.95  # unit vectors: cosine to the fp32 vector
    assert np.min(np.sum(low * ort8.encode(texts), axis=1)) > 0.99  # the two runtimes on one int8 model
    assert np.min(np.sum(bf16.encode(texts) * fp32, axis=1)) > 0.99
    alone = np.stack([ov8.encode([t])[0] for t in texts[:6]])
    assert np.abs(alone - low[:6]).max() < 1e-4  # static scales: a text's vector does not depend on its batch
    keys = {e.key for e in (ort8, ov8, bf16, _encoder(tiny_model, tmp_path, backend="openvino"))}
    assert len(keys) == 4  # cached embeddings never mix backends or precisions


def test_openvino_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs backend onnx or openvino"):
        EncoderConfig(precision="int8")
    with pytest.raises(ValidationError, match="bf16 needs backend openvino"):
        EncoderConfig(backend="onnx", precision="bf16")
    with pytest.raises(ValidationError, match="openvino runs on the CPU"):
        EncoderConfig(backend="openvino", device="cuda")
    assert EncoderConfig(backend="openvino", precision="bf16").precision == "bf16"
