"""rankfw's test plugin: one small, real component of each kind, no models.

- retriever ``overlap``: ranks every document by the number of query terms it contains;
- reranker ``idf-overlap``: re-scores candidates by the summed IDF of matched query terms, with the
  IDF table read from a model folder that the trainer ``idf`` writes;
- fuser ``sum``: adds the scores of its input runs;
- trainer ``idf``: counts document frequencies over the training passages and writes ``idf.json``.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import Field

from rankfw.core import (
    ComponentConfig,
    Corpus,
    Fuser,
    Reranker,
    Retriever,
    Run,
    StageContext,
    Topics,
    Trainer,
    TrainingInput,
    hookimpl,
)

__version__ = "0.1.0"
TOKEN = re.compile(r"\w+", re.UNICODE)


def terms(text: str) -> set[str]:
    """Lower-cased word tokens."""
    return set(TOKEN.findall(text.lower()))


class OverlapRetriever(Retriever):
    """Ranks the whole corpus by how many distinct query terms a document contains."""

    description = "Query-term overlap over the whole corpus (test retriever)"

    class Config(ComponentConfig):
        k: int = Field(100, gt=0, description="hits per query")
        seconds_per_query: float = Field(0.0, ge=0, description="sleep per query (for kill tests)")

    config: Config

    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        docs = [(d.docid, terms(d.contents)) for d in corpus]
        scores: dict[str, dict[str, float]] = {}
        with ctx.progress("overlap", len(topics)) as bar:
            for qid, query in topics.items():
                q = terms(query)
                scores[qid] = {docid: float(len(q & t)) for docid, t in docs if q & t}
                time.sleep(self.config.seconds_per_query)
                bar.advance(1)
        return Run.from_scores(scores, k=self.config.k)


class IdfOverlapReranker(Reranker):
    """Re-scores candidates by the summed IDF of the query terms they contain."""

    description = "Summed IDF of matched query terms, IDF from an 'idf' model folder (test reranker)"

    class Config(ComponentConfig):
        model: str = Field(description="folder holding idf.json (a train stage's output)")
        k: int = Field(100, gt=0)
        fail_on: str | None = Field(None, description="raise on this qid (for failure tests)")
        seconds_per_query: float = Field(0.0, ge=0, description="sleep per query (for kill tests)")

    config: Config

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        idf = json.loads((Path(self.config.model) / "idf.json").read_text(encoding="utf-8"))
        default = max(idf.values(), default=1.0)
        docs = corpus.get_many(run.docids())
        scores: dict[str, dict[str, float]] = {}
        for qid, hits in run.items():
            if qid == self.config.fail_on:
                raise RuntimeError(f"asked to fail on {qid}")
            time.sleep(self.config.seconds_per_query)
            q = terms(topics[qid])
            scores[qid] = {d: sum(idf.get(t, default) for t in sorted(q & terms(docs[d].contents))) for d, _ in hits}
        return Run.from_scores(scores, k=self.config.k)


class SumFuser(Fuser):
    """Adds the scores of the input runs (a document missing from a run adds 0)."""

    description = "Sum of scores (test fuser)"

    class Config(ComponentConfig):
        k: int = Field(100, gt=0)
        seconds: float = Field(0.0, ge=0, description="sleep before fusing (for kill tests)")

    config: Config

    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        time.sleep(self.config.seconds)
        total: dict[str, dict[str, float]] = {}
        for run in runs:
            for qid, hits in run.items():
                for docid, score in hits:
                    total.setdefault(qid, {})[docid] = total.get(qid, {}).get(docid, 0.0) + score
        return Run.from_scores(total, k=self.config.k)


class IdfTrainer(Trainer):
    """Writes ``idf.json``: log IDF of every term over the training passages of all languages."""

    description = "Document frequencies over training passages (test trainer)"

    class Config(ComponentConfig):
        smoothing: float = Field(1.0, gt=0)
        seconds: float = Field(0.0, ge=0, description="sleep after writing a partial file (for kill tests)")
        base: str | None = Field(None, description="an earlier idf model folder (stage:NAME): its terms are kept")

    config: Config

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        if self.config.seconds:
            (output_dir / "partial.bin").write_bytes(b"half a model")
            time.sleep(self.config.seconds)
            (output_dir / "partial.bin").unlink()
        df: Counter[str] = Counter()
        n = 0
        for data in inputs:
            for ex in data.examples():
                for doc in [*ex.positives, *ex.negatives]:
                    df.update(terms(doc.contents))
                    n += 1
        s = self.config.smoothing
        idf = {t: math.log((n + s) / (c + s)) for t, c in sorted(df.items())}
        if self.config.base is not None:  # a chained train stage: the base model's terms win
            idf.update(json.loads((Path(self.config.base) / "idf.json").read_text(encoding="utf-8")))
            idf["<base>"] = 1.0
        (output_dir / "idf.json").write_text(json.dumps(idf, sort_keys=True), encoding="utf-8")


@hookimpl
def register_retrievers(register: Callable[[str, type[Retriever]], None]) -> None:
    register("overlap", OverlapRetriever)


@hookimpl
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    register("idf-overlap", IdfOverlapReranker)


@hookimpl
def register_fusers(register: Callable[[str, type[Fuser]], None]) -> None:
    register("sum", SumFuser)


@hookimpl
def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
    register("idf", IdfTrainer)
