"""The ``biencoder`` reranker and the ``dense`` retriever on a tiny model and XQuAD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from rankfw_biencoder_distill import BiEncoderReranker, DenseRetriever
from rankfw_biencoder_distill.encoder import Encoder
from rankfw_biencoder_distill.testing import context, xquad

from rankfw.core import InputError, Run
from rankfw.core.registry import load_registry


def test_plugin_registers_its_four_components() -> None:
    registry = load_registry()
    assert "biencoder" in registry.names("reranker")
    assert "dense" in registry.names("retriever")
    assert {"distill", "finetune-biencoder"} <= set(registry.names("trainer"))


def test_config_validates_model_and_numbers() -> None:
    assert BiEncoderReranker.Config().model == "bundled:multilingual-e5-small"
    assert BiEncoderReranker.Config(model="stage:ft").model == "stage:ft"
    with pytest.raises(ValidationError, match="unknown bundled model"):
        BiEncoderReranker.Config(model="bundled:nope")
    with pytest.raises(ValidationError):
        BiEncoderReranker.Config(batch_size=0)
    with pytest.raises(ValidationError):
        DenseRetriever.Config(index="ivf")


def _candidates(corpus: object, topics: dict[str, str], n_queries: int, depth: int) -> Run:
    docids = [d.docid for d in corpus][:depth]  # type: ignore[attr-defined]
    return Run.from_scores({q: {d: 0.0 for d in docids} for q in list(topics)[:n_queries]})


def test_rerank_scores_are_embedding_inner_products(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    from sentence_transformers import SentenceTransformer

    corpus, topics, _ = xquad("en", xquad_cache)
    run = _candidates(corpus, topics, 5, 40)
    reranker = BiEncoderReranker(BiEncoderReranker.Config(model=str(tiny_model), device="cpu", batch_size=8))
    out = reranker.rerank(topics, run, corpus, context(tmp_path))
    assert set(out) == set(run) and all({d for d, _ in out[q]} == {d for d, _ in run[q]} for q in run)
    st = SentenceTransformer(str(tiny_model), device="cpu")
    qid = next(iter(run))
    docs = corpus.get_many([d for d, _ in run[qid]])
    q = st.encode([topics[qid]], normalize_embeddings=True)[0]
    p = st.encode([docs[d].contents for d in docs], normalize_embeddings=True)
    expected = dict(zip(docs, (p @ q).tolist()))
    got = dict(out[qid])
    assert got == pytest.approx(expected, abs=1e-5)
    scores = [s for _, s in out[qid]]
    assert scores == sorted(scores, reverse=True)


def test_each_distinct_passage_is_encoded_once_then_cached(
    tiny_model: Path, tmp_path: Path, xquad_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, topics, _ = xquad("en", xquad_cache)
    run = _candidates(corpus, topics, 20, 50)  # 20 queries x the same 50 passages
    forwarded: list[str] = []
    original = Encoder._forward

    def spy(self: Encoder, texts: list[str]) -> np.ndarray:
        forwarded.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(Encoder, "_forward", spy)
    config = BiEncoderReranker.Config(model=str(tiny_model), device="cpu")
    first = BiEncoderReranker(config).rerank(topics, run, corpus, context(tmp_path))
    assert len(forwarded) == len(set(forwarded)) == 50 + 20
    forwarded.clear()
    second = BiEncoderReranker(config).rerank(topics, run, corpus, context(tmp_path))  # a new stage, same cache
    assert forwarded == []
    assert all(dict(second[q]) == pytest.approx(dict(first[q]), abs=1e-6) for q in first)


def test_missing_topic_is_an_input_error(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("en", xquad_cache)
    run = Run.from_scores({"no-such-query": {next(iter(corpus)).docid: 1.0}})
    from rankfw.executors.local import LocalExecutor, call_component

    reranker = BiEncoderReranker(BiEncoderReranker.Config(model=str(tiny_model), device="cpu"))
    with pytest.raises(InputError, match="query id\\(s\\) that are not topics"):  # checked by the core, once
        call_component("rerank", LocalExecutor(), reranker, context(tmp_path), topics=topics, run=run, corpus=corpus)


def test_dense_flat_equals_exhaustive_rerank_and_hnsw_agrees(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("de", xquad_cache)
    topics = dict(list(topics.items())[:30])
    ctx = context(tmp_path, "de")
    dense = DenseRetriever(DenseRetriever.Config(model=str(tiny_model), device="cpu", k=10))
    run = dense.retrieve(topics, corpus, ctx)
    every = Run.from_scores({q: {d.docid: 0.0 for d in corpus} for q in topics})
    exhaustive = BiEncoderReranker(BiEncoderReranker.Config(model=str(tiny_model), device="cpu")).rerank(topics, every, corpus, ctx)
    for q in topics:  # the same top 10 up to float ties (faiss and torch sum in different orders)
        every_score = dict(exhaustive[q])
        assert all(abs(s - every_score[d]) < 1e-4 for d, s in run[q])
        assert [s for _, s in run[q]] == pytest.approx([s for _, s in exhaustive[q][:10]], abs=1e-4)
        ties = {d for d, s in exhaustive[q] if abs(s - exhaustive[q][9][1]) < 1e-4}
        assert {d for d, _ in run[q]} - ties == {d for d, _ in exhaustive[q][:10]} - ties
    assert len(list((ctx.cache_dir / "dense").iterdir())) == 1
    hnsw = DenseRetriever(DenseRetriever.Config(model=str(tiny_model), device="cpu", k=10, index="hnsw")).retrieve(topics, corpus, ctx)
    overlap = np.mean([len({d for d, _ in hnsw[q]} & {d for d, _ in run[q]}) / 10 for q in topics])
    assert overlap > 0.9
    assert len(list((ctx.cache_dir / "dense").iterdir())) == 2
