"""Computing one unit: build the component, call it through the executor, put the output in place."""

from __future__ import annotations

import shutil
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankfw.core.components import Component, ComponentConfig, ProgressFactory, StageContext, TrainingInput
from rankfw.core.errors import InputError, RankfwError, StageError
from rankfw.core.io import replace_dir, scratch_dir
from rankfw.core.runs import Run
from rankfw.executors.local import call_component
from rankfw.run.checks import check_run
from rankfw.run.keys import stage_topics
from rankfw.run.layout import MODEL_UNIT
from rankfw.spec import STAGE_REF, Stage, fill_language

if TYPE_CHECKING:
    from rankfw.run.runner import Runner


def compute_unit(runner: Runner, stage: Stage, unit: str) -> Path:
    """Compute ``unit`` of ``stage`` into its place in the output folder; returns that path."""
    language = None if unit == MODEL_UNIT else unit
    try:
        if stage.spec.kind == "train":
            return _train(runner, stage, language)
        assert language is not None
        run = _produce_run(runner, stage, language)
        path = runner.run_path(stage.name, language)
        run.write_trec(path, tag=stage.name)
        runner.forget_run(stage.name, language)  # later stages read it back from the file, as a resumed run does
        return path
    except RankfwError as e:
        if isinstance(e, InputError) and e.where is None:
            raise InputError(e.message, f"stages.{stage.name}" + (f" [{language}]" if language else "")) from None
        raise
    except KeyboardInterrupt:
        raise
    except Exception as e:
        raise StageError(stage.name, _describe(e, language)) from e


def context(runner: Runner, stage: Stage, language: str | None) -> StageContext:
    """The stage's context: its work folder, the cache, progress bars labelled with stage and language."""
    work = runner.layout.work_dir(stage.name)
    work.mkdir(parents=True, exist_ok=True)
    label = stage.name + (f" [{language}]" if language else "")
    with_prefix = getattr(runner.progress, "with_prefix", None)
    factory = with_prefix(f"{label}: ") if with_prefix else runner.progress
    return StageContext(stage.name, language, work, runner.cache_dir, _strip_stage(factory, stage.name, language), runner.log)


def _strip_stage(factory: ProgressFactory, stage: str, language: str | None) -> ProgressFactory:
    """Drop a stage name (and language) that a component put at the start of a bar's description,
    since the bar's prefix already shows them (no ``bi [de]: bi: encode``)."""
    heads = [f"{stage} [{language}]: ", f"{stage} [{language}] ", f"{stage}: "] if language else [f"{stage}: "]

    def progress(description: str, total: float | None = None) -> Any:
        for head in heads:
            if description.startswith(head) and len(description) > len(head):
                description = description[len(head):]
                break
        return factory(description, total)

    return progress


def component(runner: Runner, stage: Stage, language: str | None) -> Component:
    """The stage's component for ``language``, with ``stage:NAME`` params resolved to model folders."""
    params = dict(fill_language(stage.spec.params, language))  # a copy: the spec is never changed
    for param, dep in stage.model_refs.items():
        per_language = runner.pipeline.stages[dep].spec.per_language
        params[param] = str(runner.model_path(dep, language if per_language else None))
    try:
        resolved = params != stage.spec.params
        config: ComponentConfig = stage.component.cls.Config.model_validate(params) if resolved else stage.config
    except Exception as e:
        raise StageError(stage.name, f"parameters after resolving {STAGE_REF} references: {e}") from None
    return stage.component.cls(config)


def _produce_run(runner: Runner, stage: Stage, language: str) -> Run:
    data = runner.data[language]
    topics, _ = runner.topic_set(language, stage.spec.topics)
    ctx = context(runner, stage, language)
    comp = component(runner, stage, language)
    deps = stage.spec.inputs
    runs = [runner.input_run(dep, language) for dep in deps]
    if runner.limit is not None:  # --limit: the input runs' queries among the first N topics
        runs = [Run({q: run[q] for q in run if q in topics}) for run in runs]
    run = call_component(stage.spec.kind, runner.executor, comp, ctx, topics=topics, corpus=data.corpus, runs=runs,
                         sources=[str(runner.run_path(dep, language)) for dep in deps])
    return check_run(stage.name, run, language)


def _train(runner: Runner, stage: Stage, language: str | None) -> Path:
    langs = [language] if language else runner.languages_of(stage)
    inputs = []
    for lang in langs:
        data = runner.data[lang]
        topics, qrels = runner.topic_set(lang, stage_topics(runner.pipeline, stage)) if stage.spec.inputs else ({}, {})
        inputs.append(
            TrainingInput(
                language=lang,
                corpus=data.corpus,
                training=data.sources["train"],
                parallel=data.sources["parallel"],
                topics=topics,
                qrels=qrels,
                runs={dep: runner.input_run(dep, lang) for dep in stage.spec.inputs},
                excluded_qids=data.heldout_qids,
                selection_examples=data.heldout_examples,
            )
        )
    target = runner.model_path(stage.name, language)
    tmp = scratch_dir(target)
    try:
        call_component("train", runner.executor, component(runner, stage, language), context(runner, stage, language),
                       inputs=inputs, output_dir=tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _describe(error: BaseException, language: str | None) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    lang = f"[{language}] " if language else ""
    return f"{lang}{type(error).__name__}: {error}{where}"
