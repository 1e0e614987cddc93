"""Evaluation through ir_measures over the asked topics: per query, per language, the mean.

A run is scored over the *judged asked* queries: the topics it was run on (by default the queries
the run answers) that have at least one relevant judgement. An asked judged query the run misses
counts 0 (trec_eval ``-c`` over the asked topics); judged queries that were not asked do not count.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels

DEFAULT_METRICS = ("nDCG@10", "R@100")
"""MIRACL's official measures."""
GROUP_HITS = 16384
"""Hits handed to the measure computation at a time (:meth:`Run.iter_scores`)."""


@dataclass
class Evaluation:
    """Means and per-query values of each measure, and the counts behind them."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    """measure -> qid -> value, for every judged asked query (0 where the run misses it)."""
    asked: int
    judged: int
    """asked queries with a relevant judgement: the denominator of every mean."""
    missing: int
    """judged asked queries that the run does not answer (each counted 0)."""
    answered: int
    """asked queries the run answers."""
    warnings: list[str] = field(default_factory=list)


def parse_measures(names: Iterable[str]) -> list[Any]:
    """ir_measures measure objects from their names; unknown names are an InputError."""
    import ir_measures

    out = []
    for name in names:
        try:
            measure = ir_measures.parse_measure(name)
        except Exception:
            raise InputError(f"unknown measure {name!r} (ir_measures syntax, e.g. nDCG@10, R@100)", "metrics") from None
        try:
            supported = ir_measures.DefaultPipeline.supports(measure)
        except Exception:  # a measure without a required parameter raises from supports()
            supported = False
        if not supported:
            raise InputError(f"measure {name!r} cannot be computed by the installed ir_measures providers", "metrics")
        out.append(measure)
    return out


def judged_qids(qrels: Qrels) -> set[str]:
    """Queries with at least one relevant (grade > 0) judgement."""
    return {q for q, docs in qrels.items() if docs and max(docs.values()) > 0}


def evaluate_full(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
                  topics: Collection[str] | None = None) -> Evaluation:
    """Score ``run`` over the judged queries among ``topics`` (default: the run's queries)."""
    names = list(metrics)
    answering = set(run)  # iterating a run made from columns does not build its lists
    if topics is not None:
        answering.intersection_update(topics)
    asked = answering if topics is None else set(topics)
    judged = sorted(asked & judged_qids(qrels))
    answered = len(answering)
    values, scored = _per_query(run, judged, {q: qrels[q] for q in judged}, names)
    missing = 0
    for qid in judged:
        if qid not in scored:
            missing += qid not in answering
            for name in names:
                values[name][qid] = 0.0
    n = len(judged)
    means = {m: (math.fsum(values[m].values()) / n if n else 0.0) for m in names}  # exact: no order effects
    result = Evaluation(means, values, len(asked), n, missing, answered)
    if asked and n < len(asked) / 2:
        result.warnings.append(f"only {n} of the {len(asked)} asked queries are judged")
    if answered < len(asked):
        result.warnings.append(f"the run answers {answered} of the {len(asked)} asked queries")
    return result


def evaluate(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
             topics: Collection[str] | None = None) -> dict[str, float]:
    """Mean of each measure over the judged asked queries (see :func:`evaluate_full`)."""
    return evaluate_full(run, qrels, metrics, topics).means


def evaluate_per_query(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
                       topics: Collection[str] | None = None) -> dict[str, dict[str, float]]:
    """``measure -> {qid: value}`` for every judged asked query (misses are 0)."""
    return evaluate_full(run, qrels, metrics, topics).per_query


def _per_query(run: Run, judged: list[str], qrels: Qrels,
               names: list[str]) -> tuple[dict[str, dict[str, float]], set[str]]:
    """ir_measures per-query values of the ``judged`` queries the run answers with hits, and
    those queries.

    ir_measures' evaluator is built once and fed the run a group of queries at a time
    (:meth:`Run.iter_scores`: each query's value depends on its own hits only), so the copy of
    the run it reads stays small and in cache. Where it delegates to pytrec_eval, its per-query
    result table is read directly (one C call per group, no per-value ``Metric`` objects); any
    other provider goes through ``iter_calc``.
    """
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    scored: set[str] = set()
    evaluator: Any = None
    for group in run.iter_scores(judged, GROUP_HITS):
        scores = {q: docs for q, docs in group.items() if docs}
        if not scores:
            continue
        scored.update(scores)
        if evaluator is None:
            import ir_measures

            measures = parse_measures(names)
            evaluator = ir_measures.evaluator(measures, qrels)
        fast = _from_pytrec_tables(evaluator, measures, names, scores)
        if fast is not None and all(len(fast[name]) == len(scores) for name in names):
            for name in names:
                out[name].update(fast[name])
            continue
        by_str = {str(m): name for m, name in zip(measures, names)}
        for metric in evaluator.iter_calc(scores):
            name = by_str.get(str(metric.measure))
            if name is not None and metric.query_id in scores:
                out[name][metric.query_id] = float(metric.value)
    return out, scored


def _from_pytrec_tables(evaluator: Any, measures: list[Any], names: list[str],
                        scores: dict[str, dict[str, float]]) -> dict[str, dict[str, float]] | None:
    """Per-query values read from pytrec_eval's result tables, or None when the evaluator is not
    (only) ir_measures' pytrec_eval provider."""
    by_id = {id(m): name for m, name in zip(measures, names)}
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    for sub in getattr(evaluator, "evaluators", [evaluator]):
        invokers = getattr(sub, "invokers", None)
        if not invokers or not all(hasattr(i, "measure_map") and hasattr(i, "evaluator") for i in invokers):
            return None
        for invoker in invokers:
            table = invoker.evaluator.evaluate(scores)
            for key, (measure, _) in invoker.measure_map.items():
                name = by_id.get(id(measure))
                if name is None:
                    return None
                column = out[name]
                for qid, row in table.items():
                    column[qid] = float(row[key])
    return out


def mean_over_languages(per_language: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The unweighted mean of each measure over languages (MIRACL reports it so)."""
    langs = list(per_language.values())
    if not langs:
        return {}
    return {m: sum(values[m] for values in langs) / len(langs) for m in langs[0]}
