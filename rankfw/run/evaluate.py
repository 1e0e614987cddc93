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
    return {q for q, docs in qrels.items() if any(r > 0 for r in docs.values())}


def evaluate_full(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS,
                  topics: Collection[str] | None = None) -> Evaluation:
    """Score ``run`` over the judged queries among ``topics`` (default: the run's queries)."""
    names = list(metrics)
    hits = run.scores() if topics is None else {q: dict(run[q]) for q in topics if q in run}
    asked = set(hits) if topics is None else set(topics)
    judged = sorted(q for q in asked if q in qrels and any(r > 0 for r in qrels[q].values()))
    scores = {q: hits[q] for q in judged if hits.get(q)}
    answered = len(hits)
    values = _per_query(scores, {q: qrels[q] for q in judged}, names)
    missing = 0
    for qid in judged:
        if qid not in scores:
            missing += qid not in hits
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


def _per_query(scores: dict[str, dict[str, float]], qrels: Qrels, names: list[str]) -> dict[str, dict[str, float]]:
    """ir_measures per-query values of the judged queries the run answers.

    ir_measures' evaluator is built once; where it delegates to pytrec_eval, its per-query result
    table is read directly (one C call, no per-value ``Metric`` objects), which keeps this as fast
    as ``ir_measures.calc_aggregate``. Any other provider goes through ``iter_calc``.
    """
    import ir_measures

    out: dict[str, dict[str, float]] = {name: {} for name in names}
    if not scores:
        return out
    measures = parse_measures(names)
    evaluator = ir_measures.evaluator(measures, qrels)
    fast = _from_pytrec_tables(evaluator, measures, names, scores)
    if fast is not None and all(len(fast[name]) == len(scores) for name in names):
        return fast
    by_str = {str(m): name for m, name in zip(measures, names)}
    for metric in evaluator.iter_calc(scores):
        name = by_str.get(str(metric.measure))
        if name is not None and metric.query_id in scores:
            out[name][metric.query_id] = float(metric.value)
    return out


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
