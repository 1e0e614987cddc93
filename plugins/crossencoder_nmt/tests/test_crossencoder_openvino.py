"""The ``crossencoder`` reranker on OpenVINO: torch's scores at fp32, the int8 QDQ export's ranking,
a pair scored alone as in a batch, one export shared with ONNX Runtime, options validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

from rankfw.core import Run, StageContext

pytest.importorskip("openvino")


def _rerank(model: Path, setup: tuple, cache: Path, **params: object) -> Run:
    topics, corpus, run = setup
    config = CrossEncoderReranker.Config(model=str(model), device="cpu", k=30, **params)
    return CrossEncoderReranker(config).rerank(topics, run, corpus, StageContext("ce", "en", cache, cache / "cache"))


def _pairs(setup: tuple) -> list[tuple[str, str]]:
    topics, corpus, run = setup
    qids = list(topics)[:3]
    docs = corpus.get_many([d for q in qids for d, _ in run[q]])
    return [(topics[q], docs[d].contents) for q in qids for d, _ in run[q]]


def test_openvino_fp32_scores_equal_torch_on_the_onnx_export(tiny_cross_encoder: Path, setup: tuple,
                                                             tmp_path: Path) -> None:
    torch_run = _rerank(tiny_cross_encoder, setup, tmp_path, batch_size=7)
    ov_run = _rerank(tiny_cross_encoder, setup, tmp_path, batch_size=7, backend="openvino")
    _rerank(tiny_cross_encoder, setup, tmp_path, batch_size=7, backend="onnx")
    for qid, hits in torch_run.items():
        expected, got = dict(hits), dict(ov_run[qid])
        assert set(got) == set(expected)
        assert max(abs(got[d] - expected[d]) for d in got) < 1e-3
    assert len(list((tmp_path / "cache" / "onnx").glob("*/model.onnx"))) == 1  # one export for both runtimes


def test_openvino_int8_runs_the_calibrated_model_and_a_pair_alone_scores_as_in_a_batch(
        tiny_cross_encoder: Path, setup: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rankfw_crossencoder_nmt.onnx_scoring import load_onnx_scorer

    from rankfw.models import openvino_runtime

    pairs = _pairs(setup)
    queries, passages = [q for q, _ in pairs], [p for _, p in pairs]
    fp32 = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "fp32", pairs, max_length=64).score(queries, passages)
    ort8 = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "int8", pairs, max_length=64)
    ov8 = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "int8", pairs, max_length=64, backend="openvino")
    assert ov8.path == ort8.path and "int8-static" in str(ov8.path)  # the same calibrated QDQ model
    low, theirs = ov8.score(queries, passages), ort8.score(queries, passages)
    assert not np.allclose(low, fp32, atol=1e-6)  # int8 really ran
    size = float(np.abs(fp32).mean())
    assert float(np.abs(low - fp32).mean()) < 0.25 * size  # the bound of the ONNX Runtime int8 test
    alone = np.array([ov8.score([q], [p])[0] for q, p in zip(queries[:8], passages[:8], strict=True)])
    assert np.abs(alone - low[:8]).max() < 1e-3  # static scales: a pair's score does not depend on its batch
    monkeypatch.setattr(openvino_runtime, "cpu_has_bf16", lambda core=None: False)  # an AVX2-only CPU: the rest in f32
    plain = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "int8", pairs, max_length=64, backend="openvino")
    assert plain.session.precision == "f32"
    same = plain.score(queries, passages)
    assert float(np.abs(same - theirs).mean()) < 0.25 * float(np.abs(theirs - fp32).mean())  # ONNX Runtime's int8
    overlap = [len(set(np.argsort(-same[i:i + 30])[:10]) & set(np.argsort(-theirs[i:i + 30])[:10])) for i in (0, 30, 60)]
    assert min(overlap) >= 8  # each question's top 10 of 30 (the tiny model's scores nearly tie: close, not equal;
    # with the rest in bf16 they reorder among near-ties, so ranking quality is benchmarks/quality_onnx.py's job)


def test_openvino_bf16_is_close_to_fp32_and_falls_back_without_bf16(tiny_cross_encoder: Path, setup: tuple,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rankfw_crossencoder_nmt.onnx_scoring import load_onnx_scorer

    from rankfw.models import openvino_runtime

    pairs = _pairs(setup)
    queries, passages = [q for q, _ in pairs], [p for _, p in pairs]
    fp32 = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "fp32", pairs, max_length=64, backend="openvino")
    bf16 = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "bf16", pairs, max_length=64, backend="openvino")
    reference, low = fp32.score(queries, passages), bf16.score(queries, passages)
    assert fp32.session.precision == "f32"
    assert float(np.abs(low - reference).mean()) < 0.25 * float(np.abs(reference).mean())
    monkeypatch.setattr(openvino_runtime, "cpu_has_bf16", lambda core=None: False)  # an AVX2-only CPU
    plain = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "bf16", pairs, max_length=64, backend="openvino")
    assert plain.session.precision == "f32"
    assert np.abs(plain.score(queries, passages) - reference).max() < 1e-4


def test_openvino_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="runs on the CPU"):
        CrossEncoderReranker.Config(backend="openvino", device="cuda")
    with pytest.raises(ValidationError, match="backend openvino runs bf16"):
        CrossEncoderReranker.Config(backend="onnx", precision="bf16")
    assert CrossEncoderReranker.Config(backend="openvino", precision="bf16").precision == "bf16"


def test_openvino_streams_score_every_batch_as_one_stream_does(tiny_cross_encoder: Path, setup: tuple,
                                                              tmp_path: Path) -> None:
    from rankfw_crossencoder_nmt.onnx_scoring import load_onnx_scorer

    pairs = _pairs(setup)
    queries, passages = [q for q, _ in pairs], [p for _, p in pairs]
    scorer = load_onnx_scorer(str(tiny_cross_encoder), tmp_path, "fp32", pairs, max_length=64, batch_size=7,
                              threads=2, backend="openvino")
    assert scorer.session.streams == 2
    batches = scorer.batches(queries, passages)
    assert len(batches) > 4
    one_by_one = np.empty(len(queries), dtype=np.float32)
    for idx, features in batches:  # one batch at a time: run() splits its rows over the two streams
        one_by_one[idx] = scorer.forward(features)
    streamed = scorer.score(queries, passages)  # every batch in flight on a free stream, taken as they finish
    assert np.abs(streamed - one_by_one).max() < 1e-5
    assert len({float(s) for s in streamed}) > len(streamed) // 2  # real, distinct scores, each in its place

    def broken() -> object:
        yield batches[0][0], scorer.feed(batches[0][1])
        raise ValueError("tokenizer failed")

    with pytest.raises(ValueError, match="tokenizer failed"):
        list(scorer.session.run_batches(broken()))
    assert np.abs(scorer.score(queries, passages) - streamed).max() < 1e-5  # the session is free again


def test_one_scorer_per_process_for_a_stage_and_a_new_one_for_a_retrained_model(
        tiny_cross_encoder: Path, setup: tuple, tmp_path: Path) -> None:
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification

    model = tmp_path / "model"
    shutil.copytree(tiny_cross_encoder, model)
    first = _rerank(model, setup, tmp_path, backend="openvino", precision="bf16")
    config = CrossEncoderReranker.Config(model=str(model), device="cpu", k=30, backend="openvino", precision="bf16")
    ctx = StageContext("ce", "de", tmp_path, tmp_path / "cache")
    one, other = CrossEncoderReranker(config).scorer(ctx), CrossEncoderReranker(config).scorer(ctx)
    assert one is other  # the next language's component: loaded and compiled once

    retrained = AutoModelForSequenceClassification.from_pretrained(model)
    with torch.no_grad():
        for p in retrained.classifier.parameters():
            p.add_(torch.randn_like(p))
    retrained.save_pretrained(model)  # the same folder, new weights (a train stage run again)
    fresh = CrossEncoderReranker(config).scorer(ctx)
    assert fresh is not one
    again = _rerank(model, setup, tmp_path, backend="openvino", precision="bf16")
    moved = [abs(dict(again[q])[d] - s) for q, hits in first.items() for d, s in hits]
    assert max(moved) > 1e-3  # the retrained model's scores, not the cached scorer's
