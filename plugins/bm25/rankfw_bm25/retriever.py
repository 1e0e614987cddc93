"""The ``bm25`` retriever: Lucene BM25 through pyserini, over a cached, local or prebuilt index."""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from rankfw.core import ComponentConfig, Corpus, InputError, Retriever, Run, RunColumns, StageContext, Topics
from rankfw_bm25.languages import SUPPORTED_LANGUAGES, Analysis, analysis_for

BATCH = 512
"""Queries per batch_search call (the progress bar advances once per batch)."""


class RM3Config(ComponentConfig):
    """RM3 pseudo-relevance feedback (Anserini's, as pyserini's ``set_rm3``): the query expanded with
    ``fb_terms`` terms of its top ``fb_docs`` hits, the original terms weighted ``original_query_weight``."""

    fb_terms: PositiveInt = Field(10, description="expansion terms")
    fb_docs: PositiveInt = Field(10, description="feedback documents (the query's top hits)")
    original_query_weight: float = Field(0.5, ge=0, le=1, description="weight of the original query's terms")


class BM25Config(ComponentConfig):
    """Parameters of the ``bm25`` retriever."""

    language: str | None = Field(
        None, description="ISO 639-1 code (None: the stage's language); picks the Lucene analyzer"
    )
    k1: float = Field(0.9, ge=0, description="BM25 term-frequency saturation")
    b: float = Field(0.4, ge=0, le=1, description="BM25 length normalisation")
    k: PositiveInt = Field(1000, le=2**31 - 1, description="hits per query (Lucene takes a Java int)")
    fields: tuple[Literal["title", "text"], ...] = Field(
        ("title", "text"), min_length=1, description="document fields indexed, joined by a space (MIRACL: title text)"
    )
    rm3: RM3Config | None = Field(None, description="RM3 query expansion (None: plain BM25); needs document "
                                  "vectors, which the cached index stores")
    threads: PositiveInt | None = Field(None, description="search and indexing threads (None: the CPU count, at most 8)")
    index: str | None = Field(None, description="a local Lucene index folder to search instead of indexing the corpus")
    prebuilt: str | None = Field(
        None, description="a pyserini prebuilt index name (e.g. miracl-v1.0-de; downloaded once, needs internet)"
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        if value is not None and value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {value!r}; choose one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each field may appear once")
        return value

    @field_validator("index")
    @classmethod
    def _index_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_dir():
            raise ValueError(f"no Lucene index folder at {value!r}")
        return value

    @field_validator("prebuilt")
    @classmethod
    def _prebuilt_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
            raise ValueError(f"not a prebuilt index name: {value!r}")
        return value

    @model_validator(mode="after")
    def _one_index_source(self) -> BM25Config:
        if self.index is not None and self.prebuilt is not None:
            raise ValueError("give at most one of 'index' (a local folder) and 'prebuilt' (a pyserini name)")
        return self


class BM25Retriever(Retriever[BM25Config]):
    """Lucene BM25 (pyserini/Anserini) with the language's analyzer; indexes the corpus once per content hash."""

    Config = BM25Config
    description = "Lucene BM25 through pyserini with the language's analyzer (18 MIRACL languages + el, tr, vi)"
    citation = (
        "Lin et al. Pyserini: A Python Toolkit for Reproducible Information Retrieval Research with Sparse and "
        "Dense Representations. SIGIR 2021. Robertson and Zaragoza. The Probabilistic Relevance Framework: "
        "BM25 and Beyond. 2009."
    )

    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """BM25 top-``k`` for every topic, searched in batches over all threads."""
        language = self.language(ctx)
        threads = self.threads()
        index_dir, analysis = self.index_for(corpus, language, threads, ctx)
        try:
            searcher = self.searcher(index_dir, analysis)
        except InputError as error:  # a param the index cannot serve (rm3): name the stage's param
            raise InputError(error.message, f"stages.{ctx.stage}.{error.where}") from None
        return Run.from_columns(search(searcher, topics, analysis, self.config.k, threads, ctx))

    def searcher(self, index_dir: str, analysis: Analysis) -> Any:
        """The searcher on ``index_dir``, opened on first use and kept by this component (a later call,
        e.g. one query at a time from ``rankfw.Searcher``, does not reopen the index)."""
        opened = self.__dict__.setdefault("_searchers", {})
        if (index_dir, analysis) not in opened:
            opened[(index_dir, analysis)] = open_searcher(index_dir, analysis, self.config.k1, self.config.b, self.config.rm3)
        return opened[(index_dir, analysis)]

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for executors that ship the component: open searchers stay behind."""
        return {k: v for k, v in self.__dict__.items() if k != "_searchers"}

    def language(self, ctx: StageContext) -> str:
        """The configured language, else the stage's; an InputError when neither is supported."""
        language = self.config.language or ctx.language
        if language is None:
            raise InputError("bm25 needs a language: set params.language or the dataset's languages", f"stages.{ctx.stage}")
        if language not in SUPPORTED_LANGUAGES:
            raise InputError(
                f"bm25 does not support language {language!r}; choose one of {', '.join(SUPPORTED_LANGUAGES)}",
                f"stages.{ctx.stage}.params.language",
            )
        return language

    def threads(self) -> int:
        """Threads for search and indexing."""
        return self.config.threads or max(1, min(8, os.cpu_count() or 1))

    def index_for(self, corpus: Corpus, language: str, threads: int, ctx: StageContext) -> tuple[str, Analysis]:
        """The index to search (cached build, local folder or prebuilt name) and its analysis."""
        from rankfw_bm25 import index

        analysis = analysis_for(language)
        if self.config.prebuilt is not None:
            # Prebuilt indexes use Anserini's analyzer of the language (Thai then needs a full JDK 21+).
            from rankfw_bm25 import jvm

            return jvm.prebuilt_index_dir(self.config.prebuilt), Analysis(language, pretokenized=False)
        if self.config.index is not None:
            meta = index.read_meta(Path(self.config.index))
            pretokenized = bool(meta and meta.get("pretokenized"))
            return self.config.index, Analysis(language, pretokenized)
        return str(index.cached_index(corpus, analysis, self.config.fields, threads, ctx)), analysis


def open_searcher(index: str, analysis: Analysis, k1: float, b: float, rm3: RM3Config | None = None) -> Any:
    """Anserini's searcher on ``index`` with BM25(k1, b), the analysis's query analyzer and, when
    asked, RM3 (pyserini's ``set_rm3`` with ``filter_terms`` off: it keeps only English terms)."""
    from rankfw_bm25 import jvm

    searcher = jvm.simple_searcher(index)
    if analysis.pretokenized:
        searcher.set_analyzer(jvm.whitespace_analyzer())
    else:
        searcher.set_language(analysis.language)
    searcher.set_bm25(float(k1), float(b))
    if rm3 is not None:
        if not searcher.reader.getTermVectors(0):
            raise InputError(f"rm3 needs an index with document vectors (-storeDocvectors); {index} has none",
                             "params.rm3")
        searcher.set_rm3(None, rm3.fb_terms, rm3.fb_docs, float(rm3.original_query_weight), False, False)
    return searcher


def search(
    searcher: Any, topics: Topics, analysis: Analysis, k: int, threads: int, ctx: StageContext
) -> RunColumns:
    """Every qid of ``topics`` with its hits in Lucene's rank order, as columns (a docid code and a
    score per hit: 10,000 queries x 1,000 hits hold about 160 MB, not a tuple per hit).

    The same call as pyserini's ``LuceneSearcher.batch_search`` (Anserini's ``batch_search``),
    in batches of :data:`BATCH` queries so that the progress bar moves.
    """
    import numpy as np

    from rankfw_bm25 import jvm

    qids = list(topics)
    queries = [topics[q] for q in qids]
    if analysis.pretokenized:
        from rankfw_bm25.thai import segment

        queries = [segment(q) for q in queries]
    vocabulary: dict[str, int] = {}
    codes, scores, lengths = array("l"), array("d"), array("l")

    def add(hits: Any) -> None:
        before = len(codes)
        for hit in hits or ():
            codes.append(vocabulary.setdefault(hit.docid, len(vocabulary)))
            scores.append(hit.score)
        lengths.append(len(codes) - before)

    with ctx.progress(f"bm25: searching {len(qids)} {analysis.language} queries", len(qids)) as bar:
        if len(qids) == 1:  # one query (rankfw.Searcher): Anserini's search, without batch_search's thread pool
            add(searcher.search(queries[0], int(k)))
            bar.advance(1)
        else:
            for batch_qids, batch_queries in _batches(qids, queries):
                results = searcher.batch_search(jvm.java_list(batch_queries), jvm.java_list(batch_qids), int(k), int(threads))
                for qid in batch_qids:
                    add(results.get(qid))
                bar.advance(len(batch_qids))
    offsets = np.zeros(len(qids) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int_) if lengths else np.zeros(0, dtype=np.int64), out=offsets[1:])
    names = np.empty(len(vocabulary), dtype=object)
    names[:] = list(vocabulary)
    as_array = (lambda a, t: np.frombuffer(a, dtype=t).copy() if a else np.zeros(0, dtype=t))
    return RunColumns(qids, offsets, as_array(codes, np.int_).astype(np.int64), names, as_array(scores, np.float64))


def _batches(qids: list[str], queries: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    for start in range(0, len(qids), BATCH):
        yield qids[start : start + BATCH], queries[start : start + BATCH]
