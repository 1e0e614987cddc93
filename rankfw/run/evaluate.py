"""Evaluation through ir_measures: per query, per language and the mean over languages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels

DEFAULT_METRICS = ("nDCG@10", "R@100")
"""MIRACL's official measures."""


def parse_measures(names: Iterable[str]) -> list[object]:
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


def evaluate(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, float]:
    """Mean of each measure over the queries that have judgements (as trec_eval does).

    A query of ``qrels`` that is missing from ``run`` counts as zero.
    """
    per_query = evaluate_per_query(run, qrels, metrics)
    qids = [q for q in qrels if any(r > 0 for r in qrels[q].values())]
    return {m: (sum(per_query[m].get(q, 0.0) for q in qids) / len(qids) if qids else 0.0) for m in per_query}


def evaluate_per_query(run: Run, qrels: Qrels, metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """``measure -> {qid: value}`` for every judged query that the run answers."""
    import ir_measures

    names = list(metrics)
    measures = parse_measures(names)
    by_name = {str(m): name for m, name in zip(measures, names)}
    out: dict[str, dict[str, float]] = {name: {} for name in names}
    scores = {q: h for q, h in run.scores().items() if q in qrels}
    if not scores:
        return out
    for metric in ir_measures.iter_calc(measures, qrels, scores):
        out[by_name[str(metric.measure)]][metric.query_id] = float(metric.value)
    return out


def mean_over_languages(per_language: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The unweighted mean of each measure over languages (MIRACL reports it so)."""
    langs = list(per_language.values())
    if not langs:
        return {}
    return {m: sum(values[m] for values in langs) / len(langs) for m in langs[0]}
