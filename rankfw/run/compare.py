"""Side-by-side comparison of systems: per-language measures, paired significance tests against a
baseline (randomization or t-test), Holm-Bonferroni correction across languages and systems."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels
from rankfw.run.evaluate import evaluate_per_query, judged_qids
from rankfw.run.systems import System, qrels_from_output, systems_from_paths

__all__ = ["Comparison", "System", "compare", "holm", "paired_test", "qrels_from_output", "systems_from_paths"]

Test = Literal["randomization", "t-test"]


@dataclass
class Comparison:
    """Measures per system and language, with p-values against the baseline."""

    measures: list[str]
    languages: list[str]
    baseline: str
    test: str
    alpha: float
    values: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """system -> language (and "mean") -> measure -> value"""
    p_values: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """system -> language -> measure -> Holm-corrected p-value (baseline excluded)"""
    resamples: int = 0
    """permutations of the randomization test (0 for the t-test)"""
    provenance: dict[str, Any] = field(default_factory=dict)
    """where the systems came from (see :func:`rankfw.run.systems.provenance`)"""
    heldout: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """system -> language (and "mean") -> measure -> value on the held-out questions (``--heldout``:
    see :mod:`rankfw.run.heldout`); only systems with a held-out sibling stage"""

    def heldout_cell(self, system: str, measure: str) -> str:
        """The held-out mean of ``system`` (``-`` when it has none)."""
        value = self.heldout.get(system, {}).get("mean", {}).get(measure)
        return "-" if value is None else f"{value:.4f}"

    @property
    def systems(self) -> list[str]:
        """The systems, baseline first."""
        return list(self.values)

    @property
    def groups(self) -> list[str]:
        """The languages and "mean"."""
        return [*self.languages, "mean"]

    def delta(self, system: str, group: str, measure: str) -> float:
        """``system`` minus the baseline on ``group`` (a language or "mean")."""
        return self.values[system][group][measure] - self.values[self.baseline][group][measure]

    def p_value(self, system: str, language: str, measure: str) -> float | None:
        """The Holm-corrected p-value against the baseline (None for the baseline and the mean)."""
        return self.p_values.get(system, {}).get(language, {}).get(measure)

    def best(self, group: str, measure: str, digits: int = 4) -> set[str]:
        """The systems with the highest value of ``group`` (ties at ``digits`` decimals all best)."""
        rounded = {s: round(v[group][measure], digits) for s, v in self.values.items()}
        top = max(rounded.values())
        return {s for s, v in rounded.items() if v == top}

    def legend(self) -> str:
        """One line saying what the marks mean."""
        test = f"paired {self.test} test" + (f" ({self.resamples} permutations)" if self.resamples else "")
        return (f"+/-: significantly better/worse than {self.baseline} ({test}, Holm-Bonferroni correction "
                f"across languages and systems, alpha={self.alpha})")

    def mark(self, system: str, language: str, measure: str) -> str:
        """'+' a significant win over the baseline, '-' a significant loss, '' otherwise."""
        p = self.p_values.get(system, {}).get(language, {}).get(measure)
        if p is None or p >= self.alpha:
            return ""
        return "+" if self.values[system][language][measure] > self.values[self.baseline][language][measure] else "-"

    def markdown(self, measure: str) -> str:
        """Two markdown tables of ``measure``: the values (one row per system, one column per
        language and the mean, significance marks, and the held-out mean with ``--heldout``) and the
        deltas against the baseline with their Holm-corrected p-values."""
        extra = ["held-out mean"] if self.heldout else []
        head = ["system", *self.groups, *extra]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for system, values in self.values.items():
            cells = [f"{values[g][measure]:.4f}" + (self.mark(system, g, measure) if g != "mean" else "")
                     for g in self.groups] + ([self.heldout_cell(system, measure)] if extra else [])
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        others = [s for s in self.values if s != self.baseline]
        head = ["system", *self.groups]
        if others:
            lines += ["", f"Δ vs {self.baseline} (Holm-corrected p)", "",
                      "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for system in others:
                cells = []
                for g in self.groups:
                    p = self.p_value(system, g, measure)
                    cells.append(f"{self.delta(system, g, measure):+.4f}" + (f" (p={p:.3g})" if p is not None else ""))
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measures": self.measures, "languages": self.languages, "baseline": self.baseline,
            "test": self.test, "alpha": self.alpha, "correction": "holm",
            "resamples": self.resamples, "values": self.values, "p_values": self.p_values,
            "deltas": {
                s: {g: {m: self.delta(s, g, m) for m in self.measures} for g in self.groups}
                for s in self.values if s != self.baseline
            },
            "significant": {
                s: {lang: {m: self.mark(s, lang, m) for m in self.measures} for lang in self.languages}
                for s in self.p_values
            },
            "provenance": self.provenance,
            **({"heldout": self.heldout} if self.heldout else {}),
        }


def compare(
    systems: Sequence[System],
    qrels: dict[str, Qrels],
    measures: Sequence[str],
    baseline: str | None = None,
    test: Test = "randomization",
    alpha: float = 0.05,
    resamples: int = 10_000,
    seed: int = 0,
    topics: Mapping[str, Collection[str]] | None = None,
) -> Comparison:
    """Evaluate every system on every language it shares with ``qrels`` and test it against the
    baseline on the per-query values, over the judged queries among the asked topics (``topics``
    per language, else every query that some system answers; a query a system did not answer
    counts 0). The baseline comes first in the result, the other systems in the order given."""
    base = baseline or systems[0].name
    by_name = {s.name: s for s in systems}
    if base not in by_name:
        raise InputError(f"unknown baseline {base!r} (systems: {', '.join(by_name)})", "--baseline")
    systems = [by_name[base], *(s for s in systems if s.name != base)]
    languages = [lang for lang in qrels if all(lang in s.runs for s in systems)]
    if not languages:
        raise InputError("the systems share no language with judgements", "compare")
    result = Comparison(list(measures), languages, base, test, alpha, resamples=resamples if test == "randomization" else 0)
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    runs = {(s.name, lang): Run.read_trec(s.runs[lang]) for s in systems for lang in languages}
    for system in systems:
        per_query[system.name] = {}
        result.values[system.name] = {}
        for lang in languages:
            asked = set(topics[lang]) if topics and lang in topics else {q for s in systems for q in runs[(s.name, lang)]}
            judged = sorted(judged_qids(qrels[lang]) & asked)
            if not judged:
                raise InputError(f"the runs and the qrels share no judged query id in language {lang!r}", "compare")
            values = evaluate_per_query(runs[(system.name, lang)], qrels[lang], measures, topics=asked)
            per_query[system.name][lang] = {m: np.array([values[m].get(q, 0.0) for q in judged]) for m in measures}
            result.values[system.name][lang] = {m: float(per_query[system.name][lang][m].mean()) for m in measures}
        result.values[system.name]["mean"] = {
            m: float(np.mean([result.values[system.name][lang][m] for lang in languages])) for m in measures
        }
    raw: list[tuple[str, str, str, float]] = []
    for system in systems:
        if system.name == base:
            continue
        for lang in languages:
            for m in measures:
                a, b = per_query[system.name][lang][m], per_query[base][lang][m]
                raw.append((system.name, lang, m, paired_test(a, b, test, resamples, seed)))
    for (name, lang, m, _), p in zip(raw, holm([r[3] for r in raw])):
        result.p_values.setdefault(name, {}).setdefault(lang, {})[m] = p
    return result


def paired_test(a: np.ndarray, b: np.ndarray, test: Test, resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of the paired difference ``a - b`` (randomization: sign flips; or t-test)."""
    from scipy import stats

    if np.allclose(a, b):
        return 1.0
    if test == "t-test":
        return float(stats.ttest_rel(a, b).pvalue)
    result = stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        n_resamples=resamples, vectorized=True, rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Written here because neither scipy nor ir_measures has it (statsmodels would be a heavy
    dependency for ten lines).
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
