"""The ``dense`` retriever: the corpus embedded once, searched with faiss (flat or HNSW)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from rankfw.core import BatchFunction, Corpus, InputError, Retriever, Run, StageContext, Topics, text_digest
from rankfw_biencoder_distill.params import EncoderConfig, EncoderUser, encoder_config_json, shared_encoder
from rankfw_biencoder_distill.reranker import CITATION


class DenseConfig(EncoderConfig):
    """The encoder's parameters plus the index and the cut-off."""

    k: int = Field(100, gt=0, description="documents retrieved per query")
    index: Literal["flat", "hnsw"] = Field("flat", description="flat (exact inner product) or hnsw (approximate)")
    hnsw_m: int = Field(32, gt=1, description="HNSW graph degree")
    hnsw_ef_search: int = Field(128, gt=0, description="HNSW search breadth")
    search_batch: int = Field(1024, gt=0, description="queries per faiss search call")


SHARD_TEXTS = 20_000
"""Distinct passages per ``map_batches`` call when encoding a corpus (one progress step each)."""


class PassageEncoding:
    """A picklable factory for ``ctx.map_batches``: the passage encoder, loaded once per process
    (locally, or in each Ray worker), as a function from a batch of texts to their vectors."""

    def __init__(self, config: EncoderConfig, cache_dir: Path) -> None:
        self.config_json = encoder_config_json(config)
        self.cache_dir = str(cache_dir)

    def __call__(self) -> BatchFunction:
        encoder = shared_encoder(self.config_json, self.cache_dir)

        def encode(texts: Sequence[str]) -> list[Any]:
            return list(encoder.passages(list(texts)))

        return encode


class DenseRetriever(EncoderUser, Retriever):
    """Embeds the corpus with a bi-encoder, indexes it with faiss (cached), searches all topics."""

    Config: ClassVar[type[DenseConfig]] = DenseConfig
    description: ClassVar[str] = "dense retrieval: bi-encoder embeddings in a faiss index (flat IP or HNSW), cached"
    citation: ClassVar[str] = CITATION + " Johnson et al. Billion-scale similarity search with GPUs. 2019 (faiss)."

    def index_folder(self, corpus: Corpus, ctx: StageContext) -> Path:
        """The cached index of ``corpus`` (built on first use): ``index.faiss`` + ``docids.json``."""
        from rankfw.models import materialise

        cfg: DenseConfig = self.config  # type: ignore[assignment]
        encoder = self.encoder(ctx)
        params = f"{cfg.index}:{cfg.hnsw_m}" if cfg.index == "hnsw" else "flat"
        key = text_digest(encoder.key, encoder.passage_prefix, corpus.fingerprint, params)
        return materialise(ctx.cache_dir / "dense" / key[:40], lambda out: self._build(corpus, encoder, out, ctx))

    def _build(self, corpus: Corpus, encoder: Any, out: Path, ctx: StageContext) -> None:
        import faiss
        import numpy as np

        cfg: DenseConfig = self.config  # type: ignore[assignment]
        docids, texts = [], []
        for doc in corpus:
            docids.append(doc.docid)
            texts.append(doc.contents)
        if not texts:
            raise InputError("the corpus is empty", ctx.stage)
        distinct = list(dict.fromkeys(texts))
        rows: dict[str, Any] = {}
        factory = PassageEncoding(cfg, ctx.cache_dir)  # through the executor: sharded under Ray
        with ctx.progress(f"{ctx.stage}: encode corpus", len(distinct)) as bar:
            for start in range(0, len(distinct), SHARD_TEXTS):
                shard = distinct[start : start + SHARD_TEXTS]
                rows.update(zip(shard, ctx.map_batches(factory, shard, cfg.batch_size * 8), strict=True))
                bar.advance(len(shard))
        vectors = np.stack([rows[t] for t in texts]).astype(np.float32, copy=False)
        if cfg.index == "hnsw":
            index = faiss.IndexHNSWFlat(encoder.dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexFlatIP(encoder.dim)
        index.add(vectors)
        faiss.write_index(index, str(out / "index.faiss"))
        (out / "docids.json").write_text(json.dumps(docids))

    def loaded_index(self, folder: Path) -> tuple[Any, list[str]]:
        """The faiss index and docids of ``folder``, read on first use and kept by this component
        (a later call, e.g. one query at a time from ``rankfw.Searcher``, does not read them again)."""
        import faiss

        loaded = self.__dict__.setdefault("_indexes", {})
        if folder not in loaded:
            loaded[folder] = (faiss.read_index(str(folder / "index.faiss")), json.loads((folder / "docids.json").read_text()))
        return loaded[folder]

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for executors that ship the component: loaded indexes stay behind."""
        return {k: v for k, v in self.__dict__.items() if k != "_indexes"}

    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """The top ``k`` documents of the corpus for every topic."""
        cfg: DenseConfig = self.config  # type: ignore[assignment]
        index, docids = self.loaded_index(self.index_folder(corpus, ctx))
        if cfg.index == "hnsw":
            index.hnsw.efSearch = max(cfg.hnsw_ef_search, cfg.k)
        qids = list(topics)
        with ctx.progress(f"{ctx.stage}: encode queries", len(qids)) as bar:
            queries = self.encoder(ctx).queries([topics[q] for q in qids], bar)
        k = min(cfg.k, len(docids))
        scores: dict[str, dict[str, float]] = {}
        for start in range(0, len(qids), cfg.search_batch):
            values, rows = index.search(queries[start : start + cfg.search_batch], k)
            for qid, vals, idx in zip(qids[start : start + cfg.search_batch], values, rows, strict=True):
                scores[qid] = {docids[i]: float(v) for v, i in zip(vals, idx, strict=True) if i >= 0}
        return Run.from_scores(scores, k)
