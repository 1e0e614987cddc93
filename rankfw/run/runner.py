"""Runs a validated spec: stages in dependency order, each unit cached by its own key, resumable.

A unit (one language of a run stage, or one model) whose key is unchanged and whose output still
matches its done record is not recomputed; every file is written atomically, so a run killed at
any point resumes from what was finished. See :mod:`rankfw.run.layout` for the output folder,
:mod:`rankfw.run.keys` for what a key covers and :mod:`rankfw.run.done` for the done records.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankfw.core.components import ProgressFactory, Retriever, silent_progress
from rankfw.core.errors import InputError
from rankfw.core.io import atomic_write_json, atomic_write_text, default_cache_dir
from rankfw.core.runs import Run
from rankfw.core.types import Qrels, Topics
from rankfw.data import read_parallel
from rankfw.data.language import LanguageData
from rankfw.executors.local import Executor, LocalExecutor
from rankfw.run import done
from rankfw.run.checks import check_output_folder
from rankfw.run.compute import component, compute_unit
from rankfw.run.keys import KeyMaker, UnitKey, stage_topics
from rankfw.run.layout import MODEL_UNIT, Layout
from rankfw.run.lock import OutputLock
from rankfw.run.manifest import stage_manifest
from rankfw.run.metrics import pipeline_metrics
from rankfw.run.plan import Selection, UnitPlan, descendants, select
from rankfw.run.spec_copy import portable_spec
from rankfw.spec import Pipeline, Stage


@dataclass
class StageReport:
    """What happened to one stage in a run."""

    name: str
    computed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class RunResult:
    """The outcome of a pipeline run: per-stage reports and the metrics."""

    output_dir: Path
    stages: dict[str, StageReport]
    metrics: dict[str, Any]


class Runner:
    """Executes a :class:`Pipeline` into an output folder.

    ``only`` runs those stages (their missing inputs first), ``until`` every stage up to that one;
    ``force`` recomputes every chosen stage, ``force_stages`` those stages and their dependents;
    ``limit`` keeps the first N topics of each language's topic set (scored over those); and
    ``languages`` keeps those of the spec's languages.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        output_dir: Path | None = None,
        cache_dir: Path | None = None,
        force: bool = False,
        progress: ProgressFactory | None = None,
        log: Callable[[str], None] = lambda message: None,
        executor: Executor | None = None,
        only: list[str] | None = None,
        until: str | None = None,
        force_stages: list[str] | None = None,
        limit: int | None = None,
        languages: list[str] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.out = Path(output_dir) if output_dir else self.spec.output_dir
        self.layout = Layout(self.out)
        self.cache_dir = Path(cache_dir or self.spec.cache or default_cache_dir())
        self.force = force
        self.progress = progress or silent_progress
        self.log = log
        self.executor: Executor = executor or LocalExecutor()
        if limit is not None and limit <= 0:
            raise InputError(f"--limit must be a positive number of topics, got {limit}", "--limit")
        self.limit = limit
        spec_languages = self.spec.dataset.languages
        for lang in languages or []:
            if lang not in spec_languages:
                raise InputError(f"{lang!r} is not one of dataset.languages {spec_languages}", "--languages")
        self.languages = [lang for lang in spec_languages if languages is None or lang in languages]
        self.selection: Selection = select(pipeline, only, until, force, force_stages)
        self.data = {lang: LanguageData.from_spec(self.spec.dataset, lang, self.cache_dir) for lang in self.languages}
        self.keys = KeyMaker(pipeline, self.data, self.cache_dir, limit,
                              lambda stage, lang: component(self, stage, lang).data_fingerprint(), self._output_of)
        self._runs: dict[tuple[str, str], Run] = {}

    # --- what runs ----------------------------------------------------------------------------

    def languages_of(self, stage: Stage) -> list[str]:
        """The stage's languages, restricted to ``languages``."""
        return [lang for lang in self.pipeline.languages_of(stage) if lang in self.data]

    def units(self, stage: Stage) -> list[str]:
        """A train stage's units: one model, or one per language; a run stage's: its languages."""
        langs = self.languages_of(stage)
        if stage.spec.kind == "train" and not stage.spec.per_language:
            return [MODEL_UNIT] if langs else []
        return langs

    def stages(self) -> list[Stage]:
        """The stages this run touches, in order."""
        return [self.pipeline.stages[name] for name in self.selection.stages]

    def key(self, name: str, unit: str) -> UnitKey:
        """The cache key of ``unit`` of stage ``name`` (see :mod:`rankfw.run.keys`)."""
        return self.keys.unit(name, unit)

    def plan(self) -> list[UnitPlan]:
        """For every unit this run touches: cached or to compute, and why. Writes nothing."""
        plans = []
        for stage in self.stages():
            for unit in self.units(stage):
                check = self._check(stage, unit)
                forced = self.selection.forced.get(stage.name)
                if forced:
                    plans.append(UnitPlan(stage.name, unit, "to compute", forced, check.seconds))
                elif check.reusable:
                    plans.append(UnitPlan(stage.name, unit, "cached", "unchanged", check.seconds))
                else:
                    plans.append(UnitPlan(stage.name, unit, "to compute", check.reason, check.seconds, check.waiting))
        return plans

    # --- inputs -------------------------------------------------------------------------------

    def check_files(self) -> None:
        """Fail when a dataset file that a stage needs is missing (cheap: reads nothing)."""
        for lang, data in self.data.items():
            data.check_files(self.needed_sources(lang))

    def needed_sources(self, language: str) -> set[str]:
        """The dataset sources the chosen stages use in ``language``: the corpus for any stage,
        topics and qrels for the eval topics, training data for trainers and the train / heldout
        topics, parallel text for trainers."""
        needed: set[str] = set()
        for stage in self.stages():
            if language not in self.languages_of(stage):
                continue
            needed.add("corpus")
            topics = stage_topics(self.pipeline, stage) if stage.produces_runs or stage.spec.inputs else None
            needed |= {"topics", "qrels"} if topics == "eval" else {"train"} if topics else set()
            if stage.spec.kind == "train":
                needed |= {"train", "parallel"}
        return needed

    def check_inputs(self) -> None:
        """Read every input the chosen stages need, so that bad input fails before anything is
        written to the output folder."""
        self.check_files()
        for lang, data in self.data.items():
            used = [s for s in self.stages() if lang in self.languages_of(s)]
            if not used:
                continue
            needed = self.needed_sources(lang)
            data.corpus.validate()
            for topic_set in sorted({stage_topics(self.pipeline, s) for s in used if s.produces_runs or s.spec.inputs}):
                data.topic_set(topic_set)
            for stage in used:  # a retriever's own inputs (e.g. a run file), before anything runs
                if stage.spec.kind == "retrieve" and stage.component.cls.check is not Retriever.check:
                    own = component(self, stage, lang)
                    own.check(self.topic_set(lang, stage.spec.topics)[0], data.corpus, lang)  # type: ignore[attr-defined]
            if "train" in needed:
                data.check_training()
            if "parallel" in needed and data.sources["parallel"]:
                read_parallel(data.sources["parallel"])

    def topic_set(self, language: str, name: str) -> tuple[Topics, Qrels]:
        """Topics and qrels of a topic set, cut to the first ``limit`` topics."""
        topics, qrels = self.data[language].topic_set(name)
        if self.limit is not None:
            topics = dict(itertools.islice(topics.items(), self.limit))
        return topics, qrels

    # --- running ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run the chosen stages (or reuse them), then evaluate; returns reports and metrics."""
        self.check_inputs()
        self.out.mkdir(parents=True, exist_ok=True)
        check_output_folder(self.out, self.pipeline.order)
        with OutputLock(self.out):  # a second run into this folder is refused while this one runs
            atomic_write_text(self.layout.spec, portable_spec(self.pipeline.raw, self.spec.dataset))
            stages = self.stages()
            reports = {}
            for i, stage in enumerate(stages, start=1):
                reports[stage.name] = self._run_stage(stage, f"{i}/{len(stages)}")
                self._release_runs(stages[i:])
            metrics = self.evaluate()
            atomic_write_json(self.layout.metrics, metrics)
        return RunResult(self.out, reports, metrics)

    def _run_stage(self, stage: Stage, position: str) -> StageReport:
        report = StageReport(stage.name)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        forced = self.selection.forced.get(stage.name)
        for unit in self.units(stage):
            check = self._check(stage, unit)
            if check.reusable and not forced:
                report.cached.append(unit)
                continue
            if not forced and check.damaged:  # always said: the output was not what its record says
                self.log(f"warning: stage {stage.name} [{unit}]: recomputing: {check.reason}")
            elif not forced and check.reason != "not computed yet":
                self.log(f"stage {stage.name} [{unit}]: recomputing: {check.reason}")
            before = done.read_record(self.layout.done_path(stage.name, unit))
            t0 = time.perf_counter()
            output = compute_unit(self, stage, unit)
            timings[unit] = round(time.perf_counter() - t0, 3)
            record = done.write_record(self.layout.done_path(stage.name, unit), self.key(stage.name, unit), output, timings[unit])
            self.keys.forget(stage.name)  # the units reading this one key its new output
            if before is not None and before.get("content") == record["content"] and descendants(self.pipeline, stage.name):
                self.log(f"stage {stage.name} [{unit}]: output unchanged: stages reading it are reused where nothing else changed")
            report.computed.append(unit)
        report.seconds = time.perf_counter() - started
        if report.computed or not self.layout.manifest(stage.name).exists():
            self._write_manifest(stage, timings)
        what = "cached" if not report.computed else f"computed {', '.join(report.computed)}"
        if report.computed and report.cached:
            what += f" (cached {', '.join(report.cached)})"
        self.log(f"stage {stage.name} ({stage.spec.kind} {stage.component.name}): {what} [{position}, {report.seconds:.1f}s]")
        return report

    def output_path(self, stage: Stage, unit: str) -> Path:
        """A unit's output: its run file, or its model folder."""
        if stage.spec.kind == "train":
            return self.layout.model_path(stage.name, unit, stage.spec.per_language)
        return self.layout.run_path(stage.name, unit)

    def model_path(self, name: str, language: str | None) -> Path:
        """Where train stage ``name`` keeps its model (per language when it trains per language)."""
        return self.layout.model_path(name, language, self.pipeline.stages[name].spec.per_language)

    def run_path(self, name: str, language: str) -> Path:
        return self.layout.run_path(name, language)

    def stage_dir(self, name: str) -> Path:
        return self.layout.stage_dir(name)

    def _output_of(self, name: str, unit: str, key: UnitKey) -> str | None:
        """What readers of a unit finished with ``key`` key on (None while it is to compute)."""
        return done.finished_content(self.layout.done_path(name, unit), key, self.output_path(self.pipeline.stages[name], unit))

    def _check(self, stage: Stage, unit: str) -> done.DoneCheck:
        return done.check(self.layout.done_path(stage.name, unit), self.key(stage.name, unit), self.output_path(stage, unit))

    def input_run(self, name: str, language: str) -> Run:
        """The run of stage ``name`` for ``language`` (read from its TREC file once)."""
        if (name, language) not in self._runs:
            self._runs[(name, language)] = Run.read_trec(self.layout.run_path(name, language))
        return self._runs[(name, language)]

    def _release_runs(self, remaining: Sequence[Stage]) -> None:
        """Drop the runs read so far that none of the ``remaining`` stages takes as an input (at
        MIRACL scale one run of 10,000 queries x 1,000 hits is ten million hits)."""
        needed = {dep for stage in remaining for dep in stage.spec.inputs}
        for key in [key for key in self._runs if key[0] not in needed]:
            del self._runs[key]

    def _scored_run(self, name: str, language: str) -> Run:
        """A run for the evaluation: the one in memory, or read from its file without keeping it."""
        run = self._runs.pop((name, language), None)
        return run if run is not None else Run.read_trec(self.layout.run_path(name, language))

    def forget_run(self, name: str, language: str) -> None:
        """Drop a run read earlier (its file was just rewritten)."""
        self._runs.pop((name, language), None)

    def _write_manifest(self, stage: Stage, timings: dict[str, float]) -> None:
        units = self.units(stage)
        manifest = stage_manifest(stage, {u: self.key(stage.name, u) for u in units},
                                  [self.output_path(stage, u) for u in units], timings)
        atomic_write_json(self.layout.manifest(stage.name), manifest)

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(self) -> dict[str, Any]:
        """Every measure for every finished run stage on the eval topics (the chosen ones and any
        other whose outputs are up to date): per language, the mean, and per query."""
        scored: list[tuple[str, Sequence[str]]] = []
        for name in self.pipeline.order:
            stage = self.pipeline.stages[name]
            if not stage.produces_runs or stage.spec.topics != "eval":
                continue
            chosen = name in self.selection.stages
            langs = [lang for lang in self.languages_of(stage) if chosen or self._check(stage, lang).reusable]
            if langs:
                scored.append((name, langs))
        return pipeline_metrics(scored, self._scored_run, lambda lang: self.topic_set(lang, "eval"), self.spec.metrics, self.log)
