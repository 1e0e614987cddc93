"""The component interfaces: Retriever, Reranker, Fuser and Trainer.

A component is a class with a pydantic ``Config`` (its parameters, extra keys forbidden), a one-line
``description`` and an optional ``citation``. The pipeline builds it once per stage as
``cls(config)`` and calls it on whole batches: all topics of one language at a time.
Components never know which executor runs them, nor where the output folder is beyond
``StageContext.work_dir``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Qrels, Topics, TrainingExample
from rankfw.data import read_parallel, read_training


class ComponentConfig(BaseModel):
    """Base of every component's ``Config``: validated, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgressBar(Protocol):
    """What ``StageContext.progress`` yields: advance it as work gets done."""

    def advance(self, amount: float = 1, **fields: Any) -> None:
        """Mark ``amount`` units done; ``fields`` (e.g. ``loss=0.3``) are shown beside the bar."""


class _SilentBar:
    def advance(self, amount: float = 1, **fields: Any) -> None:
        return None


def silent_progress(description: str, total: float | None = None) -> AbstractContextManager[ProgressBar]:
    """A progress factory that shows nothing (for tests and library use)."""
    return nullcontext(_SilentBar())


ProgressFactory = Callable[[str, "float | None"], AbstractContextManager[ProgressBar]]

BatchFunction = Callable[[list[Any]], Sequence[Any]]
"""A function over one batch of items that returns one result per item, in order."""

BatchMap = Callable[[Callable[[], BatchFunction], Sequence[Any], int], list[Any]]
"""``map_batches(factory, items, batch_size) -> results``: see :attr:`StageContext.map_batches`."""


def map_locally(factory: Callable[[], BatchFunction], items: Sequence[Any], batch_size: int) -> list[Any]:
    """The local ``map_batches``: build the function once, apply it to consecutive batches here."""
    if not items:
        return []
    fn = factory()
    results: list[Any] = []
    for start in range(0, len(items), batch_size):
        results.extend(fn(list(items[start : start + batch_size])))
    return results


@dataclass
class StageContext:
    """What a component gets besides its data: where it is, where to cache, how to report.

    - ``stage``: the stage's name in the spec; ``language``: the language of this call (ISO 639-1;
      ``None`` for a trainer that sees several languages at once).
    - ``work_dir``: this stage's own folder in the output folder (created, may hold scratch files).
    - ``cache_dir``: a cache shared by all runs (indexes, embeddings, translations), keyed by
      content hashes that the component computes.
    - ``progress(description, total)``: a context manager yielding a :class:`ProgressBar`.
    - ``log(message)``: a line for the user.
    - ``map_batches(factory, items, batch_size)``: runs ``factory()`` (e.g. a model load) once per
      worker and the function it returns over ``items`` in batches, returning one result per item
      in order. Locally that is a plain loop; the Ray executor spreads the batches over its actor
      pool. ``factory`` must be picklable (an instance of a module-level class, or a
      ``functools.partial`` of a module-level function).
    """

    stage: str
    language: str | None
    work_dir: Path
    cache_dir: Path
    progress: ProgressFactory = silent_progress
    log: Callable[[str], None] = lambda message: None
    map_batches: BatchMap = map_locally

    def for_language(self, language: str | None) -> StageContext:
        """The same context for another language."""
        return StageContext(
            self.stage, language, self.work_dir, self.cache_dir, self.progress, self.log, self.map_batches
        )


class Component(ABC):
    """Base of every component. Subclasses set ``Config``, ``description`` and maybe ``citation``."""

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""

    def __init__(self, config: ComponentConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def data_fingerprint(self) -> str | None:
        """Optional: a content hash of data the component reads itself (not through the corpus or
        topics), e.g. a run file; the pipeline adds it to the stage's cache key. ``None``: none."""
        return None


class Retriever(Component):
    """First-stage retrieval: all topics of one language in, a Run out."""

    @abstractmethod
    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """Rank ``corpus`` for every topic; return a Run holding every qid of ``topics``."""

    def check(self, topics: Topics, corpus: Corpus, language: str) -> None:
        """Optional: check the component's own inputs for ``language`` before any stage runs
        (raise :class:`~rankfw.core.errors.InputError`); the pipeline calls it when overridden."""


class Reranker(Component):
    """Re-ranking: topics, a candidate Run and the corpus in, a new Run out."""

    @abstractmethod
    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Re-score the candidates of ``run`` (every qid of ``run``; docids in ``corpus``)."""


class Fuser(Component):
    """Rank fusion: several Runs of the same topics in, one Run out."""

    @abstractmethod
    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        """Fuse ``runs`` (in the order the spec lists its inputs) into one run."""


@dataclass
class TrainingInput:
    """One language's data for a trainer.

    ``training`` and ``parallel`` are sources (a path or an ``irds:`` id, or ``None`` when the
    spec's dataset has none); ``runs`` holds the runs of the stage's input stages for this language,
    computed on ``topics`` (with ``qrels``) of the topic set the stage names.
    """

    language: str
    corpus: Corpus
    training: str | None = None
    parallel: str | None = None
    topics: Topics = field(default_factory=dict)
    qrels: Qrels = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    excluded_qids: frozenset[str] = frozenset()
    selection_examples: tuple[TrainingExample, ...] = ()
    """The held-out training examples (``dataset.holdout`` / ``holdout_folds``), for choosing a
    checkpoint or a recipe only: never train on them (``examples()`` leaves them out)."""

    def examples(self) -> Iterator[TrainingExample]:
        """The training examples (MIRACL train format), minus the held-out queries."""
        if self.training is None:
            return iter(())
        return (ex for ex in read_training(self.training) if ex.query_id not in self.excluded_qids)

    def parallel_pairs(self) -> list[tuple[str, str]]:
        """The parallel text as ``(english, target)`` pairs ([] when there is none)."""
        return read_parallel(self.parallel) if self.parallel is not None else []


class Trainer(Component):
    """Training: data in, a model folder out (HF / sentence-transformers layout, safetensors)."""

    @abstractmethod
    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Train on ``inputs`` (one per language) and write the result into ``output_dir``.

        ``output_dir`` is an empty temporary folder; the pipeline moves it into place only when
        this returns, so an interrupted training never leaves a half-written model behind.
        """


COMPONENT_KINDS: dict[str, type[Component]] = {
    "retriever": Retriever,
    "reranker": Reranker,
    "fuser": Fuser,
    "trainer": Trainer,
}
"""Component kind -> the base class its components must subclass."""
