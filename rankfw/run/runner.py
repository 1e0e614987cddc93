"""Runs a validated spec: stages in dependency order, cached by content hash, resumable.

Output folder layout::

    OUT/spec.yaml                      the spec as run (after --set overrides)
    OUT/stages/NAME/LANG.run           a run stage's TREC run, one per language
    OUT/stages/NAME/model/             a train stage's model (models/LANG/ when per_language)
    OUT/stages/NAME/done/UNIT.key      the cache key each finished unit was made with
    OUT/stages/NAME/manifest.json      what produced the stage: component, version, params, timings
    OUT/metrics.json                   every measure per stage, language and mean

A unit (one language of a run stage, or one model) whose key is unchanged is not recomputed; every
file is written atomically, so a run killed at any point resumes from what was finished.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from rankfw.core.components import (
    Component,
    ComponentConfig,
    ProgressFactory,
    Retriever,
    StageContext,
    TrainingInput,
    silent_progress,
)
from rankfw.core.errors import InputError, RankfwError, StageError
from rankfw.core.io import atomic_write_json, atomic_write_text, default_cache_dir, replace_dir, text_digest
from rankfw.core.runs import Run
from rankfw.data import read_parallel
from rankfw.data.language import LanguageData
from rankfw.executors.local import Executor, LocalExecutor
from rankfw.run.evaluate import evaluate, mean_over_languages
from rankfw.spec import STAGE_REF, Pipeline, Stage, fill_language


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
    """Executes a :class:`Pipeline` into an output folder."""

    def __init__(
        self,
        pipeline: Pipeline,
        output_dir: Path | None = None,
        cache_dir: Path | None = None,
        force: bool = False,
        progress: ProgressFactory | None = None,
        log: Callable[[str], None] = lambda message: None,
        executor: Executor | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.out = Path(output_dir) if output_dir else self.spec.output_dir
        self.cache_dir = Path(cache_dir or self.spec.cache or default_cache_dir())
        self.force = force
        self.progress = progress or silent_progress
        self.log = log
        self.executor: Executor = executor or LocalExecutor()
        self.data = {
            lang: LanguageData.from_spec(self.spec.dataset, lang, self.cache_dir) for lang in self.spec.dataset.languages
        }
        self._keys: dict[str, str] = {}
        self._runs: dict[tuple[str, str], Run] = {}

    # --- public -------------------------------------------------------------------------------

    def check_files(self) -> None:
        """Fail when a dataset file that a stage needs is missing (cheap: reads nothing)."""
        for lang, data in self.data.items():
            data.check_files(self.needed_sources(lang))

    def needed_sources(self, language: str) -> set[str]:
        """The dataset sources the stages use in ``language``: the corpus for any stage, topics and
        qrels for the eval topics, training data for trainers and the train / heldout topics,
        parallel text for trainers."""
        needed: set[str] = set()
        for stage in self.pipeline.stages.values():
            if language not in self.pipeline.languages_of(stage):
                continue
            needed.add("corpus")
            topics = stage.spec.topics if stage.produces_runs or stage.spec.inputs else None
            needed |= {"topics", "qrels"} if topics == "eval" else {"train"} if topics else set()
            if stage.spec.kind == "train":
                needed |= {"train", "parallel"}
        return needed

    def check_inputs(self) -> None:
        """Read every input the stages need (corpus index, topics, qrels, training data, parallel
        text), so that bad input fails before anything is written to the output folder."""
        self.check_files()
        stages = list(self.pipeline.stages.values())
        for lang, data in self.data.items():
            used = [s for s in stages if lang in self.pipeline.languages_of(s)]
            needed = self.needed_sources(lang)
            if not used:
                continue
            data.corpus.validate()
            for topic_set in sorted({s.spec.topics for s in used if s.produces_runs or s.spec.inputs}):
                data.topic_set(topic_set)
            for stage in used:  # a retriever's own inputs (e.g. a run file), before anything runs
                if stage.spec.kind == "retrieve" and stage.component.cls.check is not Retriever.check:
                    self._component(stage, lang).check(data.topic_set(stage.spec.topics)[0], data.corpus, lang)  # type: ignore[attr-defined]
            if "train" in needed:
                data.check_training()
            if "parallel" in needed and data.sources["parallel"]:
                read_parallel(data.sources["parallel"])

    def run(self) -> RunResult:
        """Run every stage (or reuse it), then evaluate; returns reports and metrics."""
        self.check_inputs()
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out / "spec.yaml", yaml.safe_dump(self.pipeline.raw, sort_keys=False, allow_unicode=True))
        reports = {}
        for name in self.pipeline.order:
            reports[name] = self._run_stage(self.pipeline.stages[name])
        metrics = self.evaluate()
        atomic_write_json(self.out / "metrics.json", metrics)
        return RunResult(self.out, reports, metrics)

    def key(self, name: str) -> str:
        """The stage's cache key: component, version, params, inputs' keys and data fingerprints."""
        if name not in self._keys:
            stage = self.pipeline.stages[name]
            langs = self.pipeline.languages_of(stage)
            payload = {
                "kind": stage.spec.kind,
                "component": stage.component.name,
                "distribution": stage.component.distribution,
                "version": stage.component.version,
                "params": stage.config.model_dump(mode="json"),
                "topics": stage.spec.topics,
                "per_language": stage.spec.per_language,
                "inputs": [self.key(dep) for dep in stage.spec.inputs],
                "refs": {param: self.key(dep) for param, dep in sorted(stage.model_refs.items())},
                "data": {lang: self.data[lang].fingerprint for lang in langs},
            }
            if stage.component.cls.data_fingerprint is not Component.data_fingerprint:
                payload["own_data"] = {lang: self._component(stage, lang).data_fingerprint() for lang in langs}
            self._keys[name] = text_digest(json.dumps(payload, sort_keys=True, default=str))
        return self._keys[name]

    def stage_dir(self, name: str) -> Path:
        return self.out / "stages" / name

    def model_path(self, name: str, language: str | None) -> Path:
        """Where train stage ``name`` keeps its model (per language when it trains per language)."""
        stage = self.pipeline.stages[name]
        if stage.spec.per_language:
            if language is None:
                raise InputError(f"stage {name!r} trains one model per language; use it from a per-language stage", f"stages.{name}")
            return self.stage_dir(name) / "models" / language
        return self.stage_dir(name) / "model"

    def run_path(self, name: str, language: str) -> Path:
        return self.stage_dir(name) / f"{language}.run"

    # --- stages -------------------------------------------------------------------------------

    def _run_stage(self, stage: Stage) -> StageReport:
        report = StageReport(stage.name)
        started = time.perf_counter()
        key = self.key(stage.name)
        units = self._units(stage)
        timings: dict[str, float] = {}
        for unit in units:
            if not self.force and self._unit_done(stage.name, unit, key):
                report.cached.append(unit)
                continue
            t0 = time.perf_counter()
            self._compute(stage, unit)
            self._mark_done(stage.name, unit, key)
            timings[unit] = round(time.perf_counter() - t0, 3)
            report.computed.append(unit)
        report.seconds = time.perf_counter() - started
        if report.computed or not (self.stage_dir(stage.name) / "manifest.json").exists():
            self._write_manifest(stage, key, timings)
        what = "cached" if not report.computed else f"computed {', '.join(report.computed)}"
        self.log(f"stage {stage.name} ({stage.spec.kind} {stage.component.name}): {what} [{report.seconds:.1f}s]")
        return report

    def _units(self, stage: Stage) -> list[str]:
        if stage.spec.kind == "train":
            return list(self.pipeline.languages_of(stage)) if stage.spec.per_language else ["model"]
        return list(self.pipeline.languages_of(stage))

    def _unit_done(self, name: str, unit: str, key: str) -> bool:
        marker = self.stage_dir(name) / "done" / f"{unit}.key"
        if not marker.is_file() or marker.read_text().strip() != key:
            return False
        stage = self.pipeline.stages[name]
        if stage.spec.kind == "train":
            output = self.model_path(name, None if unit == "model" else unit)
            return output.is_dir()
        return self.run_path(name, unit).is_file()

    def _mark_done(self, name: str, unit: str, key: str) -> None:
        atomic_write_text(self.stage_dir(name) / "done" / f"{unit}.key", key + "\n")

    def _context(self, stage: Stage, language: str | None) -> StageContext:
        work = self.stage_dir(stage.name) / "work"
        work.mkdir(parents=True, exist_ok=True)
        prefix = f"{stage.name}" + (f" [{language}]" if language else "") + ": "
        return StageContext(stage.name, language, work, self.cache_dir, self.progress_for(prefix), self.log)

    def progress_for(self, prefix: str) -> ProgressFactory:
        with_prefix = getattr(self.progress, "with_prefix", None)
        return with_prefix(prefix) if with_prefix else self.progress

    def _component(self, stage: Stage, language: str | None) -> Component:
        params = dict(fill_language(stage.spec.params, language))  # a copy: the spec is never changed
        for param, dep in stage.model_refs.items():
            params[param] = str(self.model_path(dep, language if self.pipeline.stages[dep].spec.per_language else None))
        try:
            resolved = params != stage.spec.params
            config: ComponentConfig = stage.component.cls.Config.model_validate(params) if resolved else stage.config
        except Exception as e:
            raise StageError(stage.name, f"parameters after resolving {STAGE_REF} references: {e}") from None
        return stage.component.cls(config)

    def _compute(self, stage: Stage, unit: str) -> None:
        language = None if unit == "model" else unit
        try:
            if stage.spec.kind == "train":
                self._train(stage, language)
            else:
                assert language is not None
                run = self._produce_run(stage, language)
                run.write_trec(self.run_path(stage.name, language), tag=stage.name)
                self._runs[(stage.name, language)] = run
        except RankfwError as e:
            if isinstance(e, InputError) and e.where is None:
                raise InputError(e.message, f"stages.{stage.name}" + (f" [{language}]" if language else "")) from None
            raise
        except KeyboardInterrupt:
            raise
        except Exception as e:
            raise StageError(stage.name, _describe(e, language)) from e

    def _produce_run(self, stage: Stage, language: str) -> Run:
        data = self.data[language]
        topics, _ = data.topic_set(stage.spec.topics)
        ctx = self._context(stage, language)
        component = self._component(stage, language)
        kind = stage.spec.kind
        if kind == "retrieve":
            run = self.executor.retrieve(component, topics, data.corpus, ctx)  # type: ignore[arg-type]
        elif kind == "rerank":
            candidates = self.input_run(stage.spec.inputs[0], language)
            unknown = data.corpus.missing(candidates.docids())
            if unknown:
                raise InputError(f"the run names {len(unknown)} docid(s) that are not in the corpus, e.g. {unknown[0]!r}",
                                 str(self.run_path(stage.spec.inputs[0], language)))
            run = self.executor.rerank(component, topics, candidates, data.corpus, ctx)  # type: ignore[arg-type]
        else:
            runs = [self.input_run(dep, language) for dep in stage.spec.inputs]
            run = self.executor.fuse(component, runs, ctx)  # type: ignore[arg-type]
        if not isinstance(run, Run):
            raise TypeError(f"{stage.component.name}.{kind} returned {type(run).__name__}, not a rankfw Run")
        unknown = [q for q in run if q not in topics]
        if unknown:
            raise ValueError(f"the run names {len(unknown)} query id(s) that are not topics, e.g. {unknown[0]!r}")
        return run

    def input_run(self, name: str, language: str) -> Run:
        """The run of stage ``name`` for ``language`` (read from its TREC file once)."""
        if (name, language) not in self._runs:
            self._runs[(name, language)] = Run.read_trec(self.run_path(name, language))
        return self._runs[(name, language)]

    def _train(self, stage: Stage, language: str | None) -> None:
        langs = [language] if language else self.pipeline.languages_of(stage)
        inputs = []
        for lang in langs:
            data = self.data[lang]
            topics, qrels = data.topic_set(stage.spec.topics) if stage.spec.inputs else ({}, {})
            inputs.append(
                TrainingInput(
                    language=lang,
                    corpus=data.corpus,
                    training=data.sources["train"],
                    parallel=data.sources["parallel"],
                    topics=topics,
                    qrels=qrels,
                    runs={dep: self.input_run(dep, lang) for dep in stage.spec.inputs},
                    excluded_qids=data.heldout_qids,
                    selection_examples=data.heldout_examples,
                )
            )
        target = self.model_path(stage.name, language)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            self.executor.train(self._component(stage, language), inputs, tmp, self._context(stage, language))  # type: ignore[arg-type]
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_manifest(self, stage: Stage, key: str, timings: dict[str, float]) -> None:
        info = stage.component
        manifest = {
            "stage": stage.name,
            "kind": stage.spec.kind,
            "component": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "spec": stage.spec.model_dump(mode="json", exclude_defaults=True),
            "config": stage.config.model_dump(mode="json"),
            "model_references": {p: f"{STAGE_REF}{d}" for p, d in stage.model_refs.items()}
            | {p: v for p, v in stage.spec.params.items() if p in ("model", "teacher", "student") and isinstance(v, str)},
            "inputs": {dep: str(self.stage_dir(dep)) for dep in stage.dependencies},
            "key": key,
            "seconds": timings,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if stage.spec.kind == "train":  # which checkpoint a trainer kept, and on what (select_on: heldout)
            files = {u: self.model_path(stage.name, None if u == "model" else u) / "selection.json" for u in self._units(stage)}
            kept = {u: {k: v for k, v in json.loads(f.read_text()).items() if k != "qids"} for u, f in files.items() if f.is_file()}
            if kept:
                manifest["selection"] = kept
        atomic_write_json(self.stage_dir(stage.name) / "manifest.json", manifest)

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(self) -> dict[str, Any]:
        """Every measure for every run stage on the eval topics: per language and the mean."""
        table: dict[str, Any] = {}
        for name in self.pipeline.order:
            stage = self.pipeline.stages[name]
            if not stage.produces_runs or stage.spec.topics != "eval":
                continue
            per_language = {}
            for lang in self.pipeline.languages_of(stage):
                _, qrels = self.data[lang].topic_set("eval")
                if qrels:
                    per_language[lang] = evaluate(self.input_run(name, lang), qrels, self.spec.metrics)
            if per_language:
                table[name] = {"languages": per_language, "mean": mean_over_languages(per_language)}
        return {"measures": list(self.spec.metrics), "stages": table}


def _describe(error: BaseException, language: str | None) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    lang = f"[{language}] " if language else ""
    return f"{lang}{type(error).__name__}: {error}{where}"
