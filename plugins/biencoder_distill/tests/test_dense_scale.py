"""The dense retriever at scale: resumable sharded encoding and faiss index_factory indexes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rankfw_biencoder_distill import DenseRetriever
from rankfw_biencoder_distill.shards import EmbeddingShards
from rankfw_biencoder_distill.testing import context, xquad

from rankfw.core import InputError
from rankfw.core.components import map_locally


class Killed(Exception):
    """Stands in for the process being killed mid-encoding."""


def counting_map(calls: list[int], kill_after: int | None = None) -> Callable[..., list[Any]]:
    """A local ``map_batches`` that counts its calls (one per shard) and dies on call ``kill_after + 1``."""

    def run(factory: Callable[[], Any], items: Sequence[Any], batch_size: int) -> list[Any]:
        if kill_after is not None and len(calls) == kill_after:
            raise Killed()
        calls.append(len(items))
        return map_locally(factory, items, batch_size)

    return run


def test_killed_encoding_resumes_from_the_finished_shards(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("de", xquad_cache)
    topics = dict(list(topics.items())[:20])
    n_shards = -(-len(corpus) // 200)
    assert n_shards >= 4
    config = DenseRetriever.Config(model=str(tiny_model), device="cpu", k=10, shard_size=200, cache_embeddings=False)
    ctx = context(tmp_path / "a", "de")
    first: list[int] = []
    with pytest.raises(Killed):
        DenseRetriever(config).retrieve(topics, corpus, dataclasses.replace(ctx, map_batches=counting_map(first, 2)))
    (folder,) = (ctx.cache_dir / "dense-shards").iterdir()
    assert EmbeddingShards(folder, 200).count() == 2
    assert not list((ctx.cache_dir / "dense").glob("[!.]*"))  # no index without all shards
    second: list[int] = []
    resumed = DenseRetriever(config).retrieve(topics, corpus, dataclasses.replace(ctx, map_batches=counting_map(second)))
    assert len(second) == n_shards - 2  # only the missing shards were encoded
    assert sum(second) == len(corpus) - 400
    fresh = DenseRetriever(config).retrieve(topics, corpus, context(tmp_path / "b", "de"))
    for q in topics:
        assert [d for d, _ in resumed[q]] == [d for d, _ in fresh[q]]
        np.testing.assert_allclose([s for _, s in resumed[q]], [s for _, s in fresh[q]], rtol=1e-5)
    third: list[int] = []  # a finished index is reused: nothing encoded at all
    DenseRetriever(config).retrieve(topics, corpus, dataclasses.replace(ctx, map_batches=counting_map(third)))
    assert third == []


def test_shards_are_float16_memmaps_for_compressed_indexes(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    corpus, topics, _ = xquad("de", xquad_cache)
    ctx = context(tmp_path, "de")
    config = DenseRetriever.Config(model=str(tiny_model), device="cpu", k=5, index_factory="IVF8,Flat", shard_size=500)
    DenseRetriever(config).retrieve(dict(list(topics.items())[:3]), corpus, ctx)
    (folder,) = (ctx.cache_dir / "dense-shards").iterdir()
    shards = list(EmbeddingShards(folder, 500))
    assert [len(s.docids) for s in shards[:-1]] == [500] * (len(shards) - 1)
    assert sum(len(s.docids) for s in shards) == len(corpus)
    assert all(isinstance(s.vectors, np.memmap) and s.vectors.dtype == np.float16 for s in shards)
    assert [d for s in shards for d in s.docids] == [d.docid for d in corpus]


def _recall(run: Any, truth: Any, topics: dict[str, str], k: int) -> float:
    return float(np.mean([len({d for d, _ in run[q]} & {d for d, _ in truth[q]}) / k for q in topics]))


FLOORS = {"HNSW16": 0.95, "IVF16,Flat": 0.97, "SQ8": 0.9, "IVF16,PQ32": 0.6}
"""Recall@20 against Flat each factory must reach (IVF16,Flat with nprobe 32 is exhaustive: only
float16 round-off moves it; PQ32 compresses the tiny model's 64-d vectors to 32 bytes)."""


def _recalls(floors: dict[str, float], tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> dict[str, float]:
    corpus, topics, _ = xquad("de", xquad_cache)
    topics = dict(list(topics.items())[:60])
    ctx = context(tmp_path, "de")
    base = {"model": str(tiny_model), "device": "cpu", "k": 20, "train_sample": 2000}
    flat = DenseRetriever(DenseRetriever.Config(**base)).retrieve(topics, corpus, ctx)
    recalls = {}
    for factory in floors:
        approx = DenseRetriever(DenseRetriever.Config(**base, index_factory=factory)).retrieve(topics, corpus, ctx)
        assert set(approx) == set(flat)
        assert all(len(approx[q]) == 20 for q in topics)
        recalls[factory] = _recall(approx, flat, topics, 20)
    assert all(floors[f] <= recalls[f] <= 1.0 for f in floors), recalls
    assert len(list((ctx.cache_dir / "dense").glob("[!.]*"))) == 1 + len(floors)
    assert len(list((ctx.cache_dir / "dense-shards").iterdir())) == 2  # float32 for Flat, float16 shared by the rest
    return recalls


def test_index_factory_recall_against_flat(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    recalls = _recalls(FLOORS, tiny_model, tmp_path, xquad_cache)
    assert recalls["IVF16,PQ32"] < 1.0  # compressed: not secretly exact


@pytest.mark.slow
def test_opq_ivf_pq_recall_against_flat(tiny_model: Path, tmp_path: Path, xquad_cache: Path) -> None:
    """OPQ's rotation training is the slow part (minutes on a loaded 2-core machine)."""
    _recalls({"OPQ32,IVF16,PQ32": 0.6}, tiny_model, tmp_path, xquad_cache)


def test_bad_factory_and_too_small_training_sample_are_input_errors(
    tiny_model: Path, tmp_path: Path, xquad_cache: Path
) -> None:
    corpus, topics, _ = xquad("de", xquad_cache)
    topics = dict(list(topics.items())[:2])
    base = {"model": str(tiny_model), "device": "cpu", "k": 5}
    with pytest.raises(InputError, match="index_factory 'IVF16,PQ7'"):
        DenseRetriever(DenseRetriever.Config(**base, index_factory="IVF16,PQ7")).retrieve(topics, corpus, context(tmp_path))
    with pytest.raises(InputError, match="training on 10 vectors failed"):
        DenseRetriever(DenseRetriever.Config(**base, index_factory="IVF64,Flat", train_sample=10)).retrieve(
            topics, corpus, context(tmp_path)
        )
