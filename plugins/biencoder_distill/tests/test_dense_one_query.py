"""The dense retriever one query at a time (as rankfw.Searcher calls it): the faiss index is read
once per component, the hits are the batch run's, and the component pickles without the index."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from rankfw_biencoder_distill import DenseRetriever
from rankfw_biencoder_distill.testing import context, xquad


def test_one_query_calls_reuse_the_loaded_index_and_match_the_batch(tiny_model: Path, tmp_path: Path,
                                                                     xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("en", xquad_cache)
    topics = dict(list(topics.items())[:20])
    ctx = context(tmp_path, "en")
    dense = DenseRetriever(DenseRetriever.Config(model=str(tiny_model), device="cpu", k=10))
    batch = dense.retrieve(topics, corpus, ctx)
    (loaded,) = dense._indexes.values()
    for qid, query in topics.items():
        one = dense.retrieve({qid: query}, corpus, ctx)
        assert [d for d, _ in one[qid]] == [d for d, _ in batch[qid]]
        assert [s for _, s in one[qid]] == pytest.approx([s for _, s in batch[qid]], abs=1e-5)
    assert list(dense._indexes.values()) == [loaded]  # read once
    copy = pickle.loads(pickle.dumps(dense))
    assert "_indexes" not in copy.__dict__
    first = next(iter(topics))
    assert [d for d, _ in copy.retrieve({first: topics[first]}, corpus, ctx)[first]] == [d for d, _ in batch[first]]
