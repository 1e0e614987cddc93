"""A faiss index built from embedding shards with ``index_factory``, and searched with bounded memory.

The index is trained (when its kind needs it: IVF, PQ, OPQ, SQ) on a uniform sample of the
shards, then the shards are added one at a time, so building holds the index plus one shard in
RAM, and searching holds the index alone (docids stay in a memory-mapped table on disk).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankfw.core import InputError
from rankfw_biencoder_distill.shards import EmbeddingShards

INDEX_FILE = "index.faiss"
DOCIDS_FILE = "docids.npy"


def make_index(factory: str, dim: int, where: str) -> Any:
    """An empty inner-product faiss index of ``factory`` (e.g. "Flat", "HNSW32", "IVF1024,PQ32")."""
    import faiss

    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "not a faiss factory string"
        raise InputError(f"index_factory {factory!r} for {dim}-d vectors: {reason}", where) from None
    skip_polysemous_training(index)
    return index


def skip_polysemous_training(index: Any) -> None:
    """Turn off the polysemous code training that ``index_factory`` asks of PQ (it takes ~4 s per
    sub-quantizer and only serves Hamming-filtered search, which is not used here)."""
    import faiss

    inner = faiss.downcast_index(index)
    parts = [inner, faiss.try_extract_index_ivf(index)]
    if hasattr(inner, "index"):  # IndexPreTransform (OPQ, PCA): the index it wraps
        parts.append(faiss.downcast_index(inner.index))
    for part in parts:
        if part is not None and hasattr(part, "do_polysemous_training"):
            part.do_polysemous_training = False


def build_index(
    shards: EmbeddingShards, factory: str, dim: int, out: Path, train_sample: int, where: str, seed: int = 0
) -> None:
    """Train (on ``train_sample`` rows) and fill an index of ``factory``; write it and the docid table."""
    import faiss

    index = make_index(factory, dim, where)
    if not index.is_trained:
        sample = shards.sample(train_sample, seed)
        try:
            index.train(sample)
        except RuntimeError as error:
            raise InputError(
                f"index_factory {factory!r}: training on {len(sample)} vectors failed "
                f"({str(error).strip().splitlines()[-1]}); raise train_sample or pick a smaller index",
                where,
            ) from None
        del sample
    for shard in shards:
        index.add(np.ascontiguousarray(shard.vectors, dtype=np.float32))
    faiss.write_index(index, str(out / INDEX_FILE))
    shards.docid_table(out / DOCIDS_FILE)


def set_search_parameters(index: Any, nprobe: int, ef_search: int) -> None:
    """Set IVF ``nprobe`` and HNSW ``efSearch`` where the index has them (nested indexes too)."""
    import faiss

    space = faiss.ParameterSpace()
    for name, value in (("nprobe", nprobe), ("efSearch", ef_search)):
        try:
            space.set_index_parameter(index, name, value)
        except RuntimeError:
            pass  # this kind of index has no such parameter


class IndexSearcher:
    """A built index folder opened for search: the index in RAM, the docids memory-mapped."""

    def __init__(self, folder: Path, nprobe: int = 32, ef_search: int = 128) -> None:
        import faiss

        self.index = faiss.read_index(str(Path(folder) / INDEX_FILE))
        self.docids = np.load(Path(folder) / DOCIDS_FILE, mmap_mode="r")
        set_search_parameters(self.index, nprobe, ef_search)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> list[dict[str, float]]:
        """The top ``k`` (docid -> score) of each query row."""
        values, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return [self._named(vals, idx) for vals, idx in zip(values, rows, strict=True)]

    def _named(self, values: Sequence[float], rows: Sequence[int]) -> dict[str, float]:
        found = [(int(i), float(v)) for v, i in zip(values, rows, strict=True) if i >= 0]
        names = self.docids[[i for i, _ in found]] if found else []
        return {name.decode(): v for name, (_, v) in zip(names, found, strict=True)}
