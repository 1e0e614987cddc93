"""The component interfaces: Retriever, Reranker, Fuser and Trainer.

A component is a class with a pydantic ``Config`` (its parameters, extra keys forbidden), a one-line
``description`` and an optional ``citation``. The pipeline builds it once per stage as
``cls(config)`` and calls it on whole batches: all topics of one language at a time.
Components never know which executor runs them, nor where the output folder is beyond
``StageContext.work_dir``.

``Component[C]`` is generic over its Config, so ``self.config`` has the plugin's own type::

    class MyReranker(Reranker[MyConfig]):
        Config = MyConfig

Two parameter names mean the same in every component: ``depth`` is how many hits of each input
run a component uses, ``k`` how many hits per query it returns (``None``: all).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from rankfw.core.io import file_digest
from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Qrels, Topics, TrainingExample
from rankfw.data import is_irds, read_parallel, read_training


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


C = TypeVar("C", bound=ComponentConfig)
"""The Config type of a component."""


class Component(ABC, Generic[C]):
    """Base of every component. Subclasses set ``Config``, ``description`` and maybe ``citation``;
    ``self.config`` is an instance of ``Config`` (the class's defaults when none is given)."""

    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    config: C

    def __init__(self, config: C | None = None) -> None:
        self.config = config if config is not None else self.Config()  # type: ignore[assignment]

    def data_fingerprint(self) -> str | None:
        """Optional: a content hash of data the component reads itself (not through the corpus or
        topics), e.g. a run file; the pipeline adds it to the stage's cache key. ``None``: none."""
        return None


class Retriever(Component[C]):
    """First-stage retrieval: all topics of one language in, a Run out.

    The core guarantees: ``topics`` is non-empty (qid -> query text) and ``corpus`` is the
    language's validated corpus. The core checks afterwards that the result is a Run whose qids
    are all in ``topics``; a component need not check any of this itself.
    """

    @abstractmethod
    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """Rank ``corpus`` for every topic; return a Run holding every qid of ``topics``."""

    def check(self, topics: Topics, corpus: Corpus, language: str) -> None:
        """Optional: check the component's own inputs for ``language`` before any stage runs
        (raise :class:`~rankfw.core.errors.InputError`); the pipeline calls it when overridden."""


class Reranker(Component[C]):
    """Re-ranking: topics, a candidate Run and the corpus in, a new Run out.

    The core guarantees: every qid of ``run`` is in ``topics`` and every docid of ``run`` is in
    ``corpus`` (so ``topics[qid]`` and ``corpus.get_many(run.docids())`` cannot fail); under Ray a
    call sees a shard of the queries. The core checks afterwards that the result is a Run whose
    qids are all in ``topics``; a component need not check any of this itself.
    """

    @abstractmethod
    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Re-score the candidates of ``run`` (every qid of ``run``; docids in ``corpus``)."""


class Fuser(Component[C]):
    """Rank fusion: several Runs of the same topics in, one Run out.

    The core guarantees: at least one run, in the order of the spec's ``inputs``, each over the
    stage's topics (the inputs run on the same topic set). The core checks afterwards that the
    result is a Run whose qids are all topics of the stage.
    """

    @abstractmethod
    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        """Fuse ``runs`` (in the order the spec lists its inputs) into one run."""


class TrainingInput:
    """One language's data for a trainer, through methods only (no paths).

    - :meth:`examples`: the training examples (MIRACL train format), held-out queries removed:
      the one place that filter lives, so no trainer can see a held-out qid;
    - :meth:`parallel_pairs` / :meth:`parallel_digest`: the parallel text and its content digest;
    - :attr:`selection_examples`: the held-out examples, for choosing a checkpoint only;
    - ``runs``: the runs of the stage's input stages for this language (read-only), computed on
      ``topics`` (with ``qrels``) of the topic set the stage names.

    The pipeline builds it (``training`` and ``parallel`` are the dataset's sources: a path or an
    ``irds:`` id, or ``None`` when the dataset has none; ``excluded_qids`` the held-out queries).
    """

    __slots__ = ("_excluded", "_parallel", "_runs", "_selection", "_training", "corpus", "language", "qrels", "topics")

    def __init__(
        self,
        language: str,
        corpus: Corpus,
        training: str | None = None,
        parallel: str | None = None,
        topics: Topics | None = None,
        qrels: Qrels | None = None,
        runs: Mapping[str, Run] | None = None,
        excluded_qids: frozenset[str] = frozenset(),
        selection_examples: Sequence[TrainingExample] = (),
    ) -> None:
        self.language = language
        self.corpus = corpus
        self.topics: Topics = topics if topics is not None else {}
        self.qrels: Qrels = qrels if qrels is not None else {}
        self._runs = MappingProxyType(dict(runs or {}))
        self._training = None if training is None else str(training)
        self._parallel = None if parallel is None else str(parallel)
        self._excluded = frozenset(excluded_qids)
        self._selection = tuple(selection_examples)

    @property
    def selection_examples(self) -> tuple[TrainingExample, ...]:
        """The held-out training examples (``dataset.holdout`` / ``holdout_folds``), for choosing a
        checkpoint or a recipe only: never train on them (:meth:`examples` leaves them out)."""
        return self._selection

    @property
    def runs(self) -> Mapping[str, Run]:
        """Input stage name -> its run for this language (read-only)."""
        return self._runs

    def has_training(self) -> bool:
        """Whether the dataset has training data for this language."""
        return self._training is not None

    def examples(self, source: str | None = None) -> Iterator[TrainingExample]:
        """The training examples, minus the held-out queries: the dataset's, or those of ``source``
        (a path or ``irds:`` id a component's own parameters name) when given."""
        source = source if source is not None else self._training
        if source is None:
            return iter(())
        return (ex for ex in read_training(source) if ex.query_id not in self._excluded)

    def has_parallel(self) -> bool:
        """Whether the dataset has parallel text for this language."""
        return self._parallel is not None

    def parallel_pairs(self) -> list[tuple[str, str]]:
        """The parallel text as ``(english, target)`` pairs ([] when there is none)."""
        return read_parallel(self._parallel) if self._parallel is not None else []

    def parallel_digest(self) -> str | None:
        """A content digest of the parallel text (for cache keys); ``None`` when there is none."""
        if self._parallel is None:
            return None
        return self._parallel if is_irds(self._parallel) else file_digest(self._parallel)

    def __repr__(self) -> str:
        return f"TrainingInput({self.language!r}, {len(self.topics)} topics, runs={list(self._runs)})"


class Trainer(Component[C]):
    """Training: data in, a model folder out (HF / sentence-transformers layout, safetensors).

    The core guarantees: one :class:`TrainingInput` per language the stage trains on; its
    examples never include a held-out query; ``runs`` hold every input stage's run for that
    language (qids in ``topics``, docids in ``corpus``); ``output_dir`` exists and is empty.
    """

    @abstractmethod
    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Train on ``inputs`` (one per language) and write the result into ``output_dir``.

        ``output_dir`` is an empty temporary folder; the pipeline moves it into place only when
        this returns, so an interrupted training never leaves a half-written model behind.
        """

