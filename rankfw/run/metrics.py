"""The metrics of a run: every run stage on the evaluation topics, scored over the judged queries
among the topics it was run on, per language and the mean; per-query values beside them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels, Topics
from rankfw.run.evaluate import evaluate_full, mean_over_languages


def pipeline_metrics(
    stages: Sequence[tuple[str, Sequence[str]]],
    runs: Callable[[str, str], Run],
    topics: Callable[[str], tuple[Topics, Qrels]],
    measures: Sequence[str],
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """``metrics.json``: ``measures``; ``stages`` (stage -> ``languages`` -> measure -> value, and
    ``mean``); ``per_query`` (stage -> language -> measure -> qid -> value); ``queries`` (stage ->
    language -> asked / judged / missing counts).

    ``stages`` lists (stage, languages) to score; ``runs(stage, language)`` gives a run and
    ``topics(language)`` the asked evaluation topics with their qrels.
    """
    table: dict[str, Any] = {}
    per_query: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for name, languages in stages:
        per_language: dict[str, Mapping[str, float]] = {}
        for lang in languages:
            asked, qrels = topics(lang)
            if not qrels:
                continue
            result = evaluate_full(runs(name, lang), qrels, measures, topics=asked)
            if not result.judged:
                log(f"warning: stage {name} [{lang}]: none of the {result.asked} asked queries is judged: not scored")
                continue
            for warning in result.warnings:
                log(f"warning: stage {name} [{lang}]: {warning}")
            per_language[lang] = result.means
            per_query.setdefault(name, {})[lang] = result.per_query
            counts.setdefault(name, {})[lang] = {"asked": result.asked, "judged": result.judged, "missing": result.missing}
        if per_language:
            table[name] = {"languages": per_language, "mean": mean_over_languages(per_language)}
    return {"measures": list(measures), "stages": table, "per_query": per_query, "queries": counts}


def folder_metrics(folder: Path, measures: Sequence[str], log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """The metrics of a finished output folder, from its run files and the topics and qrels its
    ``spec.yaml`` names (works from any working directory and after the folder moved)."""
    from rankfw.data import read_qrels, read_topics
    from rankfw.run.compare import systems_from_paths
    from rankfw.run.systems import folder_dataset

    spec_file = folder / "spec.yaml"
    if not spec_file.is_file():
        raise InputError("no spec.yaml: not an output folder of 'rankfw run' (evaluate its run files with QRELS)", str(folder))
    dataset = folder_dataset(folder, "not a spec with a dataset section: not an output folder of 'rankfw run'")
    systems = systems_from_paths([folder])
    cache: dict[str, tuple[Topics, Qrels]] = {}

    def topics(lang: str) -> tuple[Topics, Qrels]:
        if lang not in cache:
            source, qrels = dataset.source("topics", lang), dataset.source("qrels", lang)
            cache[lang] = (read_topics(source) if source else {}, read_qrels(qrels) if qrels else {})
        return cache[lang]

    paths = {(s.name, lang): path for s in systems for lang, path in s.runs.items()}
    stages = [(s.name, [lang for lang in s.runs if lang in dataset.languages]) for s in systems]
    return pipeline_metrics(stages, lambda name, lang: Run.read_trec(paths[(name, lang)]), topics, measures, log)
