"""The model benchmarks' inputs and their peer protocol (``benchmarks/peer_st.py`` served through
``bench_common.Peers``), run here with this interpreter and sentence-transformers' torch backend."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))


def test_biencoder_sizes_pool_languages_into_distinct_passages(tmp_path: Path) -> None:
    from bench_biencoder import Inputs

    args = argparse.Namespace(lang="de", depth=10)
    inputs = Inputs(args, 1500, tmp_path, "query: ", "passage: ")  # more than the de corpus holds
    assert len(inputs.distinct) == 1500 == len(set(inputs.distinct))
    assert {d.split("/")[0] for d in inputs.distinct} >= {"de", "en"}
    assert len(inputs.run) == 150 and all(len(inputs.run[q]) == 10 for q in inputs.run)
    assert all(p.startswith("passage: ") for p in inputs.passages)
    peer = inputs.peer_input(1500)
    first = next(iter(inputs.run))
    assert [inputs.distinct[i] for i in peer["candidates"][0]] == [d for d, _ in inputs.run[first]]
    back = inputs.by_query(list(range(1500)))
    assert back[first] == {d: i for i, (d, _) in enumerate(inputs.run[first])}


def test_crossencoder_sizes_are_exact_pair_counts(tmp_path: Path) -> None:
    from bench_crossencoder import Inputs

    args = argparse.Namespace(language="en", depth=10, run=None, tmp=tmp_path)
    assert len(Inputs(args, 300).pairs) == 300
    big = Inputs(args, 3000)  # en has 258 dev questions: 12 candidates each
    assert len(big.pairs) == 3000 and len(big.topics) == 250


@pytest.mark.slow
def test_peer_process_scores_like_sentence_transformers_in_process(tmp_path: Path) -> None:
    from bench_common import Peers
    from sentence_transformers import SentenceTransformer

    from rankfw.models import resolve_model

    model = resolve_model("bundled:multilingual-e5-small")
    sizes = [{"size": 2, "passages": ["passage: Paris is in France.", "passage: Cats purr."],
              "queries": ["query: where is Paris"], "candidates": [[1, 0]]}]
    args = argparse.Namespace(peer_python=[sys.executable], peer_backends=["no-such-backend", "torch"], threads=1,
                              batch_size=2)
    peers = Peers(args, "bi", model, sizes, tmp_path, 128)
    try:
        assert list(peers.backends) == ["torch"]
        seconds, scores = peers.time("torch", 2)
    finally:
        peers.close()
    st = SentenceTransformer(model, device="cpu")
    p = st.encode(sizes[0]["passages"], normalize_embeddings=True)
    q = st.encode(sizes[0]["queries"], normalize_embeddings=True)
    assert seconds > 0
    assert scores == pytest.approx([float(p[1] @ q[0]), float(p[0] @ q[0])], abs=1e-4)
    assert scores[1] > scores[0]  # the Paris passage first
