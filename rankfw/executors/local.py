"""Executors: where a stage's batch work runs. Components never know which one they are under.

:func:`call_component` is the one dispatch from a stage's kind to the component's method (both
executors use it): it checks what the core guarantees a component before the call (every docid
of an input run is in the corpus) and what it returns (a Run whose qids are all topics).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from rankfw.core.components import Component, Fuser, Reranker, Retriever, StageContext, Trainer, TrainingInput
from rankfw.core.errors import InputError
from rankfw.core.kinds import Kind, kind_of
from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Topics


class Executor(Protocol):
    """Runs one batch call of a component (all topics of one language, or one training job).

    One method per row of the kind table (:data:`rankfw.core.kinds.KINDS`), named after the
    row's ``method`` and taking the component, then the row's ``passes``, then ``ctx``.
    """

    def retrieve(self, component: Retriever, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run: ...

    def rerank(self, component: Reranker, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run: ...

    def fuse(self, component: Fuser, runs: Sequence[Run], ctx: StageContext) -> Run: ...

    def train(self, component: Trainer, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None: ...


def invoke(kind: str | Kind, component: Component, ctx: StageContext, **data: Any) -> Any:
    """Call the kind's method on ``component`` with the arguments the kind passes, taken from
    ``data`` (other entries are ignored): ``invoke("rerank", c, ctx, topics=.., run=.., corpus=..)``."""
    row = kind if isinstance(kind, Kind) else kind_of(kind)
    if not isinstance(component, row.base):
        raise TypeError(f"{type(component).__name__} is not a {row.base.__name__}")
    return getattr(component, row.method)(*_passes(row, data).values(), ctx)  # positionally, as the base declares


def call_component(
    kind: str, executor: Executor, component: Component, ctx: StageContext, sources: Sequence[str] = (), **data: Any
) -> Any:
    """Run one call of a stage: ``executor.<method>(component, *passes, ctx)``, checked.

    ``data`` holds what the stage has (``topics``, ``corpus``, ``runs`` - the input stages' runs,
    ``inputs``, ``output_dir``); a kind that passes one ``run`` gets ``runs[0]``. ``sources``
    names where each input run came from, for the error when one names a docid the corpus lacks.
    Before the call it checks :func:`check_input_runs`; after it, that a run-producing kind
    returned a Run over topics only (:func:`check_run`). Returns what the method returns.
    """
    row = kind_of(kind)
    if "run" in row.passes and "run" not in data and data.get("runs"):
        data["run"] = data["runs"][0]
    args = _passes(row, data)
    check_input_runs(data.get("runs") or ([data["run"]] if "run" in data else []), data.get("topics"),
                     args.get("corpus"), sources)
    result = getattr(executor, row.method)(component, *args.values(), ctx)
    if row.produces_run:
        check_run(result, data.get("topics"), f"{type(component).__name__}.{row.method}")
    return result


def check_input_runs(
    runs: Sequence[Run], topics: Topics | None, corpus: Corpus | None, sources: Sequence[str] = ()
) -> None:
    """What the core guarantees a component about its input runs: every qid is in ``topics`` and
    (for a kind that passes the corpus) every docid is in ``corpus``; else an InputError naming
    the run's source."""
    for i, run in enumerate(runs):
        where = sources[i] if i < len(sources) else None
        strangers = [q for q in run if q not in topics] if topics is not None else []
        if strangers:
            raise InputError(
                f"the run names {len(strangers)} query id(s) that are not topics, e.g. {strangers[0]!r}", where
            )
        unknown = corpus.missing(run.docids()) if corpus is not None else []
        if unknown:
            raise InputError(
                f"the run names {len(unknown)} docid(s) that are not in the corpus, e.g. {unknown[0]!r}", where
            )


def check_run(run: object, topics: Topics | None, what: str) -> Run:
    """``run`` when it is a Run whose qids are all in ``topics`` (when given); else raise."""
    if not isinstance(run, Run):
        raise TypeError(f"{what} returned {type(run).__name__}, not a rankfw Run")
    if topics is not None:
        unknown = [q for q in run if q not in topics]
        if unknown:
            raise ValueError(f"the run names {len(unknown)} query id(s) that are not topics, e.g. {unknown[0]!r}")
    return run


def _passes(row: Kind, data: dict[str, Any]) -> dict[str, Any]:
    missing = [name for name in row.passes if name not in data]
    if missing:
        raise TypeError(f"a {row.spec} stage passes {', '.join(row.passes)}; missing {', '.join(missing)}")
    return {name: data[name] for name in row.passes}


class LocalExecutor:
    """Runs every call in this process (the default)."""

    def retrieve(self, component: Retriever, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        return invoke("retrieve", component, ctx, topics=topics, corpus=corpus)

    def rerank(self, component: Reranker, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        return invoke("rerank", component, ctx, topics=topics, run=run, corpus=corpus)

    def fuse(self, component: Fuser, runs: Sequence[Run], ctx: StageContext) -> Run:
        return invoke("fuse", component, ctx, runs=runs)

    def train(self, component: Trainer, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        invoke("train", component, ctx, inputs=inputs, output_dir=output_dir)
