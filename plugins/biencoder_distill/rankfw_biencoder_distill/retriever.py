"""The ``dense`` retriever: the corpus embedded once into shards on disk, searched with a faiss index."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from rankfw.core import BatchFunction, Corpus, Retriever, Run, StageContext, Topics, text_digest
from rankfw_biencoder_distill.dense_index import IndexSearcher, build_index, make_index
from rankfw_biencoder_distill.params import EncoderConfig, EncoderUser, encoder_config_json, shared_encoder
from rankfw_biencoder_distill.reranker import CITATION
from rankfw_biencoder_distill.shards import EmbeddingShards


class DenseConfig(EncoderConfig):
    """The encoder's parameters plus the on-disk embeddings, the faiss index and the cut-off."""

    k: int = Field(100, gt=0, description="documents retrieved per query")
    index: Literal["flat", "hnsw"] = Field("flat", description="flat (exact inner product) or hnsw (approximate)")
    hnsw_m: int = Field(32, gt=1, description="HNSW graph degree")
    index_factory: str | None = Field(
        None,
        description='a faiss index_factory string ("Flat", "HNSW32", "IVF1024,PQ32", "OPQ32,IVF1024,PQ32"); '
        "overrides index/hnsw_m",
    )
    train_sample: int = Field(
        100_000, gt=0, description="vectors sampled from the corpus to train IVF/PQ/OPQ indexes (30-256 per IVF list)"
    )
    nprobe: int = Field(32, gt=0, description="IVF lists searched per query")
    hnsw_ef_search: int = Field(128, gt=0, description="HNSW search breadth")
    search_batch: int = Field(1024, gt=0, description="queries per faiss search call")
    shard_size: int = Field(20_000, gt=0, description="passages per on-disk embedding shard (the unit of resuming)")
    shard_dtype: Literal["auto", "float16", "float32"] = Field(
        "auto",
        description="on-disk embeddings; auto = float32 for the exact Flat index (float16 would reorder near-ties), "
        "float16 for the others",
    )

    @property
    def factory(self) -> str:
        """The faiss factory string this config asks for."""
        if self.index_factory:
            return self.index_factory
        return "Flat" if self.index == "flat" else f"HNSW{self.hnsw_m}"

    @property
    def dtype(self) -> str:
        """The numpy dtype of the on-disk shards."""
        if self.shard_dtype != "auto":
            return self.shard_dtype
        return "float32" if self.factory.replace(" ", "") in ("Flat", "IDMap,Flat") else "float16"


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


class DenseRetriever(EncoderUser[DenseConfig], Retriever[DenseConfig]):
    """Embeds the corpus into float16 shards on disk (resumable), indexes them with faiss, searches."""

    Config: ClassVar[type[DenseConfig]] = DenseConfig
    description: ClassVar[str] = (
        "dense retrieval: bi-encoder embeddings (float16 shards on disk, resumable) in a faiss index_factory index"
    )
    citation: ClassVar[str] = CITATION + " Johnson et al. Billion-scale similarity search with GPUs. 2019 (faiss)."

    def shards(self, corpus: Corpus, ctx: StageContext) -> EmbeddingShards:
        """The corpus's embedding shards, every missing one encoded now (through ``ctx.map_batches``)."""
        cfg = self.config
        encoder = self.encoder(ctx)
        key = text_digest(encoder.key, encoder.passage_prefix, corpus.fingerprint, str(cfg.shard_size), cfg.dtype)
        shards = EmbeddingShards(ctx.cache_dir / "dense-shards" / key[:40], cfg.shard_size, cfg.dtype)
        factory = PassageEncoding(cfg, ctx.cache_dir)  # through the executor: spread over Ray's workers

        def encode(texts: Sequence[str]) -> list[Any]:
            return ctx.map_batches(factory, list(texts), cfg.batch_size * 8)

        with ctx.progress(f"{ctx.stage}: encode corpus", len(corpus)) as bar:
            done = shards.count()
            encoded = shards.fill(corpus, encode, bar.advance, ctx.stage)
        if done and encoded:
            ctx.log(f"{ctx.stage}: resumed the corpus encoding ({done} shards on disk, {encoded} encoded now)")
        return shards

    def index_folder(self, corpus: Corpus, ctx: StageContext) -> Path:
        """The cached index of ``corpus`` (built on first use): ``index.faiss`` + ``docids.npy``."""
        from rankfw.models import materialise

        cfg = self.config
        encoder = self.encoder(ctx)
        train = str(cfg.train_sample) if not make_index(cfg.factory, encoder.dim, ctx.stage).is_trained else ""
        key = text_digest(encoder.key, encoder.passage_prefix, corpus.fingerprint, cfg.factory, train, cfg.dtype)
        return materialise(ctx.cache_dir / "dense" / key[:40], lambda out: self._build(corpus, encoder.dim, out, ctx))

    def _build(self, corpus: Corpus, dim: int, out: Path, ctx: StageContext) -> None:
        cfg = self.config
        shards = self.shards(corpus, ctx)
        build_index(shards, cfg.factory, dim, out, cfg.train_sample, f"{ctx.stage}: params.index_factory")

    def loaded_index(self, folder: Path) -> IndexSearcher:
        """The searcher of ``folder``, opened on first use and kept by this component (a later call,
        e.g. one query at a time from ``rankfw.Searcher``, does not read the index again)."""
        cfg = self.config
        loaded = self.__dict__.setdefault("_indexes", {})
        if folder not in loaded:
            loaded[folder] = IndexSearcher(folder, cfg.nprobe, max(cfg.hnsw_ef_search, cfg.k))
        return loaded[folder]

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for executors that ship the component: loaded indexes stay behind."""
        return {k: v for k, v in self.__dict__.items() if k != "_indexes"}

    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """The top ``k`` documents of the corpus for every topic."""
        cfg = self.config
        searcher = self.loaded_index(self.index_folder(corpus, ctx))
        qids = list(topics)
        with ctx.progress(f"{ctx.stage}: encode queries", len(qids)) as bar:
            queries = self.encoder(ctx).queries([topics[q] for q in qids], bar)
        k = min(cfg.k, len(searcher))
        scores: dict[str, dict[str, float]] = {}
        for start in range(0, len(qids), cfg.search_batch):
            batch = qids[start : start + cfg.search_batch]
            scores.update(zip(batch, searcher.search(queries[start : start + cfg.search_batch], k), strict=True))
        return Run.from_scores(scores, k)
