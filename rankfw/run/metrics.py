"""The metrics of a run: every run stage on the evaluation topics, scored over the judged queries
among the topics it was run on, per language and the mean; per-query values beside them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
            for warning in result.warnings:
                log(f"warning: stage {name} [{lang}]: {warning}")
            if not result.judged:
                log(f"warning: stage {name} [{lang}]: none of the {result.asked} asked queries is judged: not scored")
                continue
            per_language[lang] = result.means
            per_query.setdefault(name, {})[lang] = result.per_query
            counts.setdefault(name, {})[lang] = {"asked": result.asked, "judged": result.judged, "missing": result.missing}
        if per_language:
            table[name] = {"languages": per_language, "mean": mean_over_languages(per_language)}
    return {"measures": list(measures), "stages": table, "per_query": per_query, "queries": counts}
