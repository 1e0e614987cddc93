"""Side-by-side comparison of systems: per-language measures, paired significance tests against a
baseline (randomization or t-test), Holm-Bonferroni correction across languages and systems."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels
from rankfw.data import read_qrels
from rankfw.run.evaluate import evaluate_per_query, judged_qids

Test = Literal["randomization", "t-test"]


@dataclass
class System:
    """One system to compare: its runs per language."""

    name: str
    runs: dict[str, Path]


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

    def mark(self, system: str, language: str, measure: str) -> str:
        """'+' a significant win over the baseline, '-' a significant loss, '' otherwise."""
        p = self.p_values.get(system, {}).get(language, {}).get(measure)
        if p is None or p >= self.alpha:
            return ""
        return "+" if self.values[system][language][measure] > self.values[self.baseline][language][measure] else "-"

    def markdown(self, measure: str) -> str:
        """A markdown table of ``measure``: one row per system, one column per language and the mean,
        with the significance marks."""
        head = ["system", *self.languages, "mean"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for system, values in self.values.items():
            cells = [f"{values[lang][measure]:.4f}{self.mark(system, lang, measure)}" for lang in self.languages]
            lines.append(f"| {system} | " + " | ".join([*cells, f"{values['mean'][measure]:.4f}"]) + " |")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measures": self.measures, "languages": self.languages, "baseline": self.baseline,
            "test": self.test, "alpha": self.alpha, "correction": "holm",
            "values": self.values, "p_values": self.p_values,
            "significant": {
                s: {lang: {m: self.mark(s, lang, m) for m in self.measures} for lang in self.languages}
                for s in self.p_values
            },
        }


def systems_from_paths(paths: Sequence[Path], language: str | None = None) -> list[System]:
    """Systems from run files (one language: ``language`` or "all") and output folders (each stage
    of the folder is a system; its ``LANG.run`` files give the languages)."""
    systems: list[System] = []
    several = sum(1 for p in paths if p.is_dir()) > 1
    for path in paths:
        if path.is_dir():
            stages = sorted((path / "stages").glob("*/")) if (path / "stages").is_dir() else []
            found = [s for s in stages if list(s.glob("*.run")) and _on_evaluation_topics(s)]
            if not found:
                raise InputError("no run files found (expected an output folder of 'rankfw run')", str(path))
            for stage in found:
                name = f"{path.name}/{stage.name}" if several else stage.name
                systems.append(System(name, {r.stem: r for r in sorted(stage.glob("*.run"))}))
        elif path.is_file():
            systems.append(System(path.stem, {language or "all": path}))
        else:
            raise InputError("no such run file or output folder", str(path))
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise InputError(f"two systems share a name: {names}; rename the run files", "compare")
    return systems


def _on_evaluation_topics(stage_dir: Path) -> bool:
    """False for a stage run on the training or held-out questions (its manifest says so): the
    evaluation qrels do not judge those."""
    manifest = stage_dir / "manifest.json"
    if not manifest.is_file():
        return True
    try:
        topics = json.loads(manifest.read_text(encoding="utf-8")).get("spec", {}).get("topics", "eval")
    except (OSError, ValueError):
        return True
    return topics == "eval"


def qrels_from_output(folder: Path, languages: Sequence[str]) -> dict[str, Qrels]:
    """The qrels of each language, read from the spec an output folder was made with."""
    import yaml

    from rankfw.spec import DatasetSpec

    spec_file = folder / "spec.yaml"
    if not spec_file.is_file():
        raise InputError("no spec.yaml: pass --qrels", str(folder))
    dataset = DatasetSpec.model_validate(yaml.safe_load(spec_file.read_text(encoding="utf-8"))["dataset"])
    out = {}
    for lang in languages:
        source = dataset.source("qrels", lang)
        if source is None:
            raise InputError("the spec has no qrels: pass --qrels", str(spec_file))
        out[lang] = read_qrels(source)
    return out


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
    counts 0)."""
    base = baseline or systems[0].name
    by_name = {s.name: s for s in systems}
    if base not in by_name:
        raise InputError(f"unknown baseline {base!r} (systems: {', '.join(by_name)})", "--baseline")
    languages = [lang for lang in qrels if all(lang in s.runs for s in systems)]
    if not languages:
        raise InputError("the systems share no language with judgements", "compare")
    result = Comparison(list(measures), languages, base, test, alpha)
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
