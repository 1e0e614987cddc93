"""The ``crossencoder`` reranker on a tiny model: same scores as sentence-transformers, top k, precisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

from rankfw.core import InputError, Run, StageContext
from rankfw.core.registry import load_registry


def _ctx(tmp_path: Path) -> StageContext:
    return StageContext("ce", "en", tmp_path, tmp_path / "cache")


def _rerank(model: Path, setup: tuple, tmp_path: Path, **params: object) -> Run:
    topics, corpus, run = setup
    config = CrossEncoderReranker.Config(model=str(model), device="cpu", **params)
    return CrossEncoderReranker(config).rerank(topics, run, corpus, _ctx(tmp_path))


def test_registered() -> None:
    registry = load_registry()
    assert registry.get("reranker", "crossencoder").cls is CrossEncoderReranker


def test_scores_match_sentence_transformers_and_keep_top_k(tiny_cross_encoder: Path, setup: tuple, tmp_path: Path) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    topics, corpus, run = setup
    out = _rerank(tiny_cross_encoder, setup, tmp_path, k=20, max_length=48, batch_size=7)
    assert list(out) == list(topics)
    for qid, hits in out.items():
        assert {d for d, _ in hits} == {d for d, _ in run[qid][:20]}
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
    st = CrossEncoder(str(tiny_cross_encoder), device="cpu", max_length=48, activation_fn=torch.nn.Identity())
    qid = next(iter(topics))
    docs = corpus.get_many([d for d, _ in out[qid]])
    expected = st.predict([(topics[qid], docs[d].contents) for d, _ in out[qid]], batch_size=5)
    assert np.allclose([s for _, s in out[qid]], expected, atol=1e-4)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_lower_precisions(tiny_cross_encoder: Path, setup: tuple, tmp_path: Path, precision: str) -> None:
    import torch
    from rankfw_crossencoder_nmt.scoring import load_cross_encoder

    model, _ = load_cross_encoder(str(tiny_cross_encoder), "cpu", precision)  # type: ignore[arg-type]
    if precision == "bf16":
        assert all(p.dtype == torch.bfloat16 for p in model.parameters())
    else:
        assert not any(type(m) is torch.nn.Linear for m in model.base_model.encoder.modules())  # quantized
        assert type(model.classifier) is torch.nn.Linear  # the head stays fp32
    base = _rerank(tiny_cross_encoder, setup, tmp_path, k=10)
    low = _rerank(tiny_cross_encoder, setup, tmp_path, k=10, precision=precision)
    assert {q: {d for d, _ in h} for q, h in low.items()} == {q: {d for d, _ in h} for q, h in base.items()}
    assert all(np.isfinite(s) for h in low.values() for _, s in h)


def test_int8_keeps_the_layers_with_outlier_inputs_in_fp32(outlier_cross_encoder: Path, setup: tuple) -> None:
    import torch
    from rankfw_crossencoder_nmt.scoring import PairScorer, load_cross_encoder, outlier_linears

    topics, corpus, run = setup
    qid = next(iter(topics))
    docs = corpus.get_many([d for d, _ in run[qid]])
    pairs = [(topics[qid], docs[d].contents) for d, _ in run[qid]]
    fp32, tokenizer = load_cross_encoder(str(outlier_cross_encoder), "cpu", "fp32")
    assert outlier_linears(fp32, tokenizer, pairs, 10.0) == {"stack.layer.0.output.dense"}

    mixed, _ = load_cross_encoder(str(outlier_cross_encoder), "cpu", "int8", pairs, outlier_ratio=10.0)
    plain = [name for name, m in mixed.base_model.encoder.named_modules() if type(m) is torch.nn.Linear]
    assert plain == ["layer.0.output.dense"]  # every other linear layer is quantized
    everything, _ = load_cross_encoder(str(outlier_cross_encoder), "cpu", "int8", pairs, outlier_ratio=1e9)
    assert not any(type(m) is torch.nn.Linear for m in everything.base_model.encoder.modules())

    def error(model: object) -> float:
        reference = PairScorer(fp32, tokenizer, 64).score([q for q, _ in pairs], [p for _, p in pairs])
        scores = PairScorer(model, tokenizer, 64).score([q for q, _ in pairs], [p for _, p in pairs])
        return float(np.abs(scores - reference).mean())

    assert error(mixed) < error(everything) / 3


def test_unknown_query_is_an_input_error(tiny_cross_encoder: Path, setup: tuple, tmp_path: Path) -> None:
    from rankfw.executors.local import LocalExecutor, call_component

    topics, corpus, run = setup
    reranker = CrossEncoderReranker(CrossEncoderReranker.Config(model=str(tiny_cross_encoder), device="cpu"))
    with pytest.raises(InputError, match="query id\\(s\\) that are not topics"):  # checked by the core, once
        call_component("rerank", LocalExecutor(), reranker, _ctx(tmp_path), topics={}, run=run, corpus=corpus)


def test_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CrossEncoderReranker.Config(precision="fp8")
    with pytest.raises(ValidationError):
        CrossEncoderReranker.Config(k=0)
    with pytest.raises(ValidationError):
        CrossEncoderReranker.Config(model="not a model ref!")
