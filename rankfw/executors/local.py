"""Executors: where a stage's batch work runs. Components never know which one they are under."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from rankfw.core.components import Fuser, Reranker, Retriever, StageContext, Trainer, TrainingInput
from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Topics


class Executor(Protocol):
    """Runs one batch call of a component (all topics of one language, or one training job)."""

    def retrieve(self, component: Retriever, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run: ...

    def rerank(self, component: Reranker, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run: ...

    def fuse(self, component: Fuser, runs: Sequence[Run], ctx: StageContext) -> Run: ...

    def train(self, component: Trainer, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None: ...


class LocalExecutor:
    """Runs every call in this process (the default)."""

    def retrieve(self, component: Retriever, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        return component.retrieve(topics, corpus, ctx)

    def rerank(self, component: Reranker, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        return component.rerank(topics, run, corpus, ctx)

    def fuse(self, component: Fuser, runs: Sequence[Run], ctx: StageContext) -> Run:
        return component.fuse(runs, ctx)

    def train(self, component: Trainer, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        component.train(inputs, output_dir, ctx)
