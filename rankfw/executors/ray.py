"""The Ray executor: a stage's batch work sharded over a pool of Ray actors through Ray Data.

- Rerank: the input run is split by query into shards; ``Dataset.map_batches`` with an actor pool
  (``num_workers`` actors, ``gpus_per_worker`` GPUs each) runs ``component.rerank`` on each shard.
  An actor builds ``component_cls(config)`` once, so a model is loaded once per worker.
- Retrieve: the topics are sharded the same way. The first topic is searched in this process
  first (the *warm-up*), so that a cached artefact the retriever needs (a Lucene or faiss index
  of the corpus) is built once, not by every worker at the same time.
- ``StageContext.map_batches`` (the generic batch map a component may use, e.g. the dense encoder
  over a whole corpus) runs on the same kind of actor pool.
- Fuse and train run in this process, as under the local executor: fusion is a cheap merge of runs
  the driver already holds (shipping them out costs more than fusing them), and a trainer is one
  job that writes a temporary folder of this machine, which the pipeline then moves into place.

The shards' runs are merged into one Run, queries in input order; components are not told that
they run under Ray. Ray restarts a worker that dies and retries its shard (Ray Data's actor pools
default to unlimited restarts), so a killed worker costs time, not results.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ray
import ray.data

from rankfw.core.components import (
    BatchFunction,
    Component,
    Fuser,
    Reranker,
    Retriever,
    StageContext,
    Trainer,
    TrainingInput,
)
from rankfw.core.errors import RankfwError
from rankfw.core.kinds import kind_of
from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Topics
from rankfw.executors.local import check_run, invoke


class RayExecutor:
    """Runs reranker and retriever batches on a Ray cluster (``address``) or a local Ray.

    ``num_workers`` actors (each with ``cpus_per_worker`` CPUs and ``gpus_per_worker`` GPUs) share
    the shards of a call; ``shard_size`` queries go into one component call (default: about four
    shards per worker, at most 1,000 queries each). With ``address=None`` and Ray not yet started
    in this process, a local Ray is started on this machine.
    """

    def __init__(
        self,
        address: str | None = None,
        num_workers: int = 2,
        gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0,
        shard_size: int | None = None,
        warmup: bool = True,
    ) -> None:
        if num_workers < 1:
            raise ValueError("num_workers must be >= 1")
        self.address = address
        self.num_workers = num_workers
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_worker = cpus_per_worker
        self.shard_size = shard_size
        self.warmup = warmup

    # --- the Executor protocol ----------------------------------------------------------------

    def retrieve(self, component: Retriever, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        """Search the topics in shards on the actor pool (after a one-topic warm-up here)."""
        qids = list(topics)
        parts: list[Run] = []
        if self.warmup and qids:
            first, qids = qids[:1], qids[1:]
            warm = invoke("retrieve", component, self._driver_context(ctx), topics={q: topics[q] for q in first}, corpus=corpus)
            parts.append(check_run(warm, None, f"{type(component).__name__}.retrieve"))
        rows = [{"i": i, "qid": q, "payload": pickle.dumps({"topics": topics[q]})} for i, q in enumerate(qids)]
        parts.append(self._run_shards("retrieve", component, corpus, ctx, rows, len(topics)))
        return _merge(parts, list(topics))

    def rerank(self, component: Reranker, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Re-rank the run in shards of queries on the actor pool."""
        rows = [
            {"i": i, "qid": q, "payload": pickle.dumps({"topics": topics.get(q), "run": run[q]})} for i, q in enumerate(run)
        ]
        merged = self._run_shards("rerank", component, corpus, ctx, rows, len(rows))
        return _merge([merged], list(run))

    def fuse(self, component: Fuser, runs: Sequence[Run], ctx: StageContext) -> Run:
        """Fuse here: the runs are already in this process and fusion is a cheap merge."""
        return invoke("fuse", component, self._driver_context(ctx), runs=runs)

    def train(self, component: Trainer, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Train here: one job, writing into a temporary folder of this machine."""
        invoke("train", component, self._driver_context(ctx), inputs=inputs, output_dir=output_dir)

    # --- generic batch map ----------------------------------------------------------------------

    def map_batches(
        self, factory: Callable[[], BatchFunction], items: Sequence[Any], batch_size: int, ctx: StageContext | None = None
    ) -> list[Any]:
        """``factory()`` once per actor, then ``fn(batch) -> one result per item`` over all items, in order."""
        if not items:
            return []
        self.start()
        rows = [{"i": i, "qid": "", "payload": pickle.dumps(item)} for i, item in enumerate(items)]
        out: list[Any] = [None] * len(items)
        total = len(items)
        with _progress(ctx, "map_batches", total) as bar:
            for batch in self._stream(_MapActor, (factory,), rows, batch_size):
                for i, payload in zip(batch["i"], batch["payload"], strict=True):
                    if int(i) < 0:
                        raise pickle.loads(payload)
                    out[int(i)] = pickle.loads(payload)
                bar.advance(len(batch["i"]))
        return out

    # --- internals ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to (or start) Ray, once; quiet Ray Data's own progress bars."""
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, ignore_reinit_error=True, log_to_driver=True)
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no "execution finished" line per call
        data_context = ray.data.DataContext.get_current()
        data_context.enable_progress_bars = False
        data_context.print_on_execution_start = False

    def _driver_context(self, ctx: StageContext) -> StageContext:
        def on_ray(factory: Callable[[], BatchFunction], items: Sequence[Any], batch_size: int) -> list[Any]:
            return self.map_batches(factory, items, batch_size, ctx)

        return dataclasses.replace(ctx, map_batches=on_ray)

    def _shard_size(self, n: int) -> int:
        if self.shard_size:
            return self.shard_size
        return max(1, min(1000, math.ceil(n / (4 * self.num_workers))))

    def _run_shards(
        self, kind: str, component: Component, corpus: Corpus, ctx: StageContext, rows: list[dict[str, Any]], total: int
    ) -> Run:
        if not rows:
            return Run()
        self.start()
        spec = (type(component), component.config, corpus, _portable_context(ctx), kind)
        hits: dict[str, list[tuple[str, float]]] = {}
        with ctx.progress(f"{ctx.stage}: {kind_of(kind).method} on Ray ({self.num_workers} workers)", total) as bar:
            bar.advance(total - len(rows))
            try:
                for batch in self._stream(_ComponentActor, spec, rows, self._shard_size(len(rows))):
                    for qid, payload in zip(batch["qid"], batch["payload"], strict=True):
                        if qid == _ERROR:
                            raise pickle.loads(payload)
                        hits[str(qid)] = pickle.loads(payload)
                    bar.advance(int(batch["n_in"].sum()))
            except RankfwError:
                raise
            except Exception as e:
                raise _original(e) from None
        return Run.from_ranked(hits)

    def _stream(self, actor: type, args: tuple[Any, ...], rows: list[dict[str, Any]], batch_size: int) -> Any:
        blocks = max(1, math.ceil(len(rows) / batch_size))
        dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            actor,
            fn_constructor_args=args,
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.num_workers),
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker or None,
        )
        return dataset.iter_batches(batch_size=None, batch_format="numpy")


class _ComponentActor:
    """One worker: builds the component once, then calls it (through the local executor's
    :func:`invoke`) on each shard of queries."""

    def __init__(self, cls: type[Component], config: Any, corpus: Corpus, ctx: StageContext, kind: str) -> None:
        self.component = cls(config)
        self.corpus = corpus
        self.ctx = ctx
        self.kind = kind
        ctx.work_dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._shard(batch)
        except Exception as e:  # handed back as data: Ray Data would keep only its text
            return {"qid": [_ERROR], "payload": [_pickled_error(e)], "n_in": [0]}

    def _shard(self, batch: dict[str, Any]) -> dict[str, Any]:
        qids = [str(q) for q in batch["qid"]]
        rows: list[dict[str, Any]] = [pickle.loads(p) for p in batch["payload"]]
        data: dict[str, Any] = {"corpus": self.corpus}
        data["topics"] = {q: row["topics"] for q, row in zip(qids, rows, strict=True) if row["topics"] is not None}
        if rows and "run" in rows[0]:
            data["run"] = Run.from_ranked({q: row["run"] for q, row in zip(qids, rows, strict=True)})
        run = check_run(invoke(self.kind, self.component, self.ctx, **data), None,
                        f"{type(self.component).__name__}.{kind_of(self.kind).method}")
        out_qids = list(run)
        n_in = [len(qids) if i == 0 else 0 for i in range(len(out_qids))]  # progress: inputs done, on row 0
        return {"qid": out_qids, "payload": [pickle.dumps(run[q]) for q in out_qids], "n_in": n_in}


class _MapActor:
    """One worker of ``StageContext.map_batches``: ``factory()`` once, then the function per batch."""

    def __init__(self, factory: Callable[[], BatchFunction]) -> None:
        self.fn = factory()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        try:
            items = [pickle.loads(p) for p in batch["payload"]]
            results = list(self.fn(items))
            if len(results) != len(items):
                raise ValueError(f"the batch function returned {len(results)} results for {len(items)} items")
            return {"i": batch["i"], "payload": [pickle.dumps(r) for r in results]}
        except Exception as e:
            return {"i": [-1], "payload": [_pickled_error(e)]}


_ERROR = "\x00error"
"""The qid of the one row a shard that raised returns (its payload: the pickled exception)."""


def _pickled_error(error: Exception) -> bytes:
    """The worker's exception, pickled, with its traceback as a note; a RuntimeError if it won't pickle."""
    import os
    import traceback

    error.add_note(f"(in Ray worker pid {os.getpid()})\n" + "".join(traceback.format_exception(error)).rstrip())
    try:
        data = pickle.dumps(error)
        pickle.loads(data)
        return data
    except Exception:
        return pickle.dumps(RuntimeError(f"{type(error).__name__}: {error}\n" + "\n".join(error.__notes__)))


def _original(error: BaseException) -> BaseException:
    """The component's own exception inside Ray's wrappers (so that an InputError stays one)."""
    seen: set[int] = set()
    found: BaseException = error
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RankfwError):
            return current
        cause = getattr(current, "cause", None)  # RayTaskError.cause: the exception the worker raised
        if isinstance(cause, BaseException):
            found = cause
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return found


def _portable_context(ctx: StageContext) -> StageContext:
    """The context a worker gets: same stage, language and folders; no progress bar; log to stderr."""
    return StageContext(ctx.stage, ctx.language, ctx.work_dir, ctx.cache_dir, log=_log_to_stderr)


_LOGGED: set[str] = set()


def _log_to_stderr(message: str) -> None:
    """A worker's log line on stderr (Ray forwards it to the driver), each line once per worker."""
    if message not in _LOGGED:
        _LOGGED.add(message)
        print(message, file=sys.stderr, flush=True)


def _merge(parts: Sequence[Run], order: Sequence[str]) -> Run:
    """One run from shard runs: queries in ``order`` first, any others after, hits as they are."""
    hits: dict[str, list[tuple[str, float]]] = {}
    for part in parts:
        hits.update(part.items())
    ordered = {q: hits[q] for q in order if q in hits}
    ordered.update((q, h) for q, h in hits.items() if q not in ordered)
    return Run.from_ranked(ordered)


def _progress(ctx: StageContext | None, what: str, total: int) -> Any:
    from rankfw.core.components import silent_progress

    if ctx is None:
        return silent_progress(what, total)
    return ctx.progress(f"{ctx.stage}: {what} on Ray", total)
