"""Runs a pipeline's stage graph for ad-hoc queries, with each stage's component built once.

The components are the pipeline's own, built as the Runner builds them (resolved params, trained
models of the output folder, tuned fusion weights) and called through their usual
``retrieve`` / ``rerank`` / ``fuse`` on topics that hold only the queries asked, so a query ranks
exactly as it does in the batch run. Components with the same class and resolved config (e.g. one
multilingual model for every language) are shared, so every model is loaded once per process.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from rankfw.core.components import Component, StageContext
from rankfw.core.errors import InputError, RankfwError, StageError
from rankfw.core.runs import Run
from rankfw.core.types import Document, Topics
from rankfw.spec import Pipeline, Stage
from rankfw.run.compute import component


class Engine:
    """A pipeline over an output folder, ready to rank queries of any servable stage and language."""

    def __init__(self, pipeline: Pipeline, output_dir: Path | None = None, cache_dir: Path | None = None,
                 log: Callable[[str], None] = lambda message: None) -> None:
        from rankfw.run.runner import Runner

        self.pipeline = pipeline
        self.runner = Runner(pipeline, output_dir=output_dir, cache_dir=cache_dir, log=log)
        self.log = log
        self._components: dict[tuple[str, str], Component] = {}
        self._by_stage: dict[tuple[str, str], Component] = {}
        self._work = Path(tempfile.mkdtemp(prefix="rankfw-search-"))
        self._lock = threading.RLock()

    @property
    def output_dir(self) -> Path:
        return self.runner.out

    def close(self) -> None:
        """Remove the scratch folder (components keep their caches in the cache folder)."""
        shutil.rmtree(self._work, ignore_errors=True)

    def servable(self) -> dict[str, list[str]]:
        """Stage -> languages, for every stage that ranks the evaluation topics (in run order)."""
        out = {}
        for name in self.pipeline.order:
            stage = self.pipeline.stages[name]
            if stage.produces_runs and stage.spec.topics == "eval":
                out[name] = list(self.pipeline.languages_of(stage))
        return out

    def default_stage(self) -> str:
        """The last servable stage (the pipeline's final ranking)."""
        stages = list(self.servable())
        if not stages:
            raise InputError("the pipeline has no stage that ranks the evaluation topics", "stages")
        return stages[-1]

    def check(self, stage: str, language: str) -> None:
        """An InputError (one line) unless ``stage`` can rank queries in ``language``."""
        servable = self.servable()
        if stage not in servable:
            kind = self.pipeline.stages[stage].spec if stage in self.pipeline.stages else None
            why = "it is not a stage of the pipeline" if kind is None else (
                "a train stage makes a model, not a ranking" if kind.kind == "train"
                else f"it ranks the {kind.topics} topics, not queries")
            raise InputError(f"stage {stage!r} cannot be searched: {why} (searchable: {', '.join(servable)})", "--stage")
        if language not in servable[stage]:
            raise InputError(f"stage {stage!r} has no language {language!r} (it has {', '.join(servable[stage])})",
                             "--language")
        for dep in self._trained(self.pipeline.stages[stage]):
            model = self.runner.model_path(dep.name, language if dep.spec.per_language else None)
            if not model.is_dir():
                raise InputError(f"stage {stage!r} needs the trained model of stage {dep.name!r}, which {self.output_dir} "
                                 f"does not hold: run 'rankfw run' first", str(model))

    def _trained(self, stage: Stage) -> list[Stage]:
        seen: dict[str, Stage] = {}

        def visit(s: Stage) -> None:
            for dep in s.dependencies:
                d = self.pipeline.stages[dep]
                if d.spec.kind == "train":
                    seen[dep] = d
                visit(d)

        visit(stage)
        return list(seen.values())

    def component(self, stage: Stage, language: str) -> Component:
        """The stage's component for ``language``, built once per class and resolved config."""
        with self._lock:
            if (stage.name, language) not in self._by_stage:
                built = component(self.runner, stage, language)  # the runner's own param and model resolution
                key = (f"{type(built).__module__}.{type(built).__qualname__}", built.config.model_dump_json())
                self._by_stage[(stage.name, language)] = self._components.setdefault(key, built)
            return self._by_stage[(stage.name, language)]

    def rank(self, stage_name: str, language: str, topics: Topics) -> Run:
        """The run of ``stage_name`` for ``topics`` (its input stages computed for them first)."""
        self.check(stage_name, language)
        with self._lock:
            return self._rank(self.pipeline.stages[stage_name], language, topics, {})

    def documents(self, language: str, docids: list[str]) -> dict[str, Document]:
        """The passages of ``docids`` in ``language``'s corpus."""
        return self.runner.data[language].corpus.get_many(docids)

    def _rank(self, stage: Stage, language: str, topics: Topics, done: dict[str, Run]) -> Run:
        if stage.name in done:
            return done[stage.name]
        inputs = [self._rank(self.pipeline.stages[d], language, topics, done) for d in stage.spec.inputs]
        component = self.component(stage, language)
        if not getattr(component, "single_query", True):
            raise InputError(f"stage {stage.name!r} ({stage.component.name}) cannot rank single queries: "
                             f"{getattr(component, 'single_query_reason', 'its component works on whole topic sets')}",
                             f"stages.{stage.name}")
        work = self._work / stage.name
        work.mkdir(parents=True, exist_ok=True)
        ctx = StageContext(stage.name, language, work, self.runner.cache_dir, log=self.log)
        corpus = self.runner.data[language].corpus
        kind = stage.spec.kind
        try:
            if kind == "retrieve":
                run = component.retrieve(topics, corpus, ctx)  # type: ignore[attr-defined]
            elif kind == "rerank":
                run = component.rerank(topics, inputs[0], corpus, ctx)  # type: ignore[attr-defined]
            else:
                run = component.fuse(inputs, ctx)  # type: ignore[attr-defined]
        except RankfwError:
            raise
        except Exception as e:
            frames = traceback.extract_tb(e.__traceback__)
            where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            raise StageError(stage.name, f"[{language}] {stage.component.name} failed on the query: "
                                         f"{type(e).__name__}: {e}{where}") from e
        if not isinstance(run, Run):
            raise StageError(stage.name, f"{stage.component.name}.{kind} returned {type(run).__name__}, not a Run")
        done[stage.name] = run
        return run
