"""``Result``: a finished run's runs, metrics, per-query values and comparisons, as pandas DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankfw.core.errors import InputError
from rankfw.core.runs import Run
from rankfw.core.types import Qrels

if TYPE_CHECKING:
    import pandas as pd

    from rankfw.run.runner import Runner


@dataclass
class Result:
    """What :meth:`rankfw.Pipeline.run` returns.

    - ``runs[stage][language]``: the :class:`~rankfw.core.runs.Run` of every run stage;
    - ``metrics``: long-form DataFrame ``stage, language, measure, value`` (the evaluation topics);
      ``metrics.groupby(["stage", "measure"]).value.mean()`` is the mean over languages;
    - ``per_query``: ``stage, language, measure, qid, value`` for every judged query among the asked
      topics (a query the run does not answer counts 0, so its mean per language equals ``metrics``);
    - :meth:`compare`: the paired significance tests of ``rankfw compare``.
    """

    output_dir: Path
    runs: dict[str, dict[str, Run]]
    qrels: dict[str, Qrels]
    measures: list[str]
    raw_metrics: dict[str, Any] = field(default_factory=dict)
    eval_stages: list[str] = field(default_factory=list)
    _per_query: Any = field(default=None, repr=False)

    @classmethod
    def from_runner(cls, runner: Runner, metrics: dict[str, Any]) -> Result:
        """The result of a finished :class:`~rankfw.run.runner.Runner` (runs read from its folder)."""
        runs: dict[str, dict[str, Run]] = {}
        eval_stages = []
        for name in runner.pipeline.order:
            stage = runner.pipeline.stages[name]
            if not stage.produces_runs:
                continue
            found = {lang: runner.run_path(name, lang) for lang in runner.pipeline.languages_of(stage)}
            found = {lang: path for lang, path in found.items() if path.is_file() and lang in runner.data}
            if found:
                runs[name] = {lang: runner.input_run(name, lang) for lang in found}
                if stage.spec.topics == "eval":
                    eval_stages.append(name)
        qrels = {}
        for lang, data in runner.data.items():
            if data.sources.get("qrels") and any(lang in runs[s] for s in eval_stages):
                qrels[lang] = data.topic_set("eval")[1]
        return cls(runner.out, runs, qrels, list(runner.spec.metrics), metrics, eval_stages)

    @classmethod
    def from_output(cls, output_dir: str | Path, registry: Any = None) -> Result:
        """The result of a finished ``rankfw run`` output folder (its ``spec.yaml`` and runs)."""
        from rankfw.api.pipeline import Pipeline
        from rankfw.run.runner import Runner

        folder = Path(output_dir)
        pipeline = Pipeline.from_yaml(folder / "spec.yaml", registry=registry)
        runner = Runner(pipeline.planned, output_dir=folder)
        return cls.from_runner(runner, runner.evaluate())

    def __repr__(self) -> str:
        return f"Result({self.output_dir}: stages {', '.join(self.runs)}; languages {', '.join(self.qrels)})"

    @property
    def metrics(self) -> pd.DataFrame:
        """Every measure per stage and language: columns ``stage, language, measure, value``."""
        import pandas as pd

        rows = [
            (stage, lang, measure, float(value))
            for stage, table in self.raw_metrics.get("stages", {}).items()
            for lang, values in table["languages"].items()
            for measure, value in values.items()
        ]
        return pd.DataFrame(rows, columns=["stage", "language", "measure", "value"])

    @property
    def per_query(self) -> pd.DataFrame:
        """Every measure per stage, language and judged query: ``stage, language, measure, qid, value``."""
        if self._per_query is None:
            import pandas as pd

            from rankfw.run.evaluate import evaluate_per_query

            rows = []
            scored = self.raw_metrics.get("per_query")
            if scored:  # the runner's own per-query values: over the judged queries among the asked topics
                rows = [(stage, lang, m, q, float(v)) for stage, langs in scored.items() for lang, measures in langs.items()
                        for m, values in measures.items() for q, v in values.items()]
            for stage in self.eval_stages if not scored else []:
                for lang, run in self.runs[stage].items():
                    qrels = self.qrels.get(lang)
                    if not qrels:
                        continue
                    judged = [q for q, docs in qrels.items() if any(r > 0 for r in docs.values())]
                    values = evaluate_per_query(run, qrels, self.measures)
                    rows.extend((stage, lang, m, q, values[m].get(q, 0.0)) for m in self.measures for q in judged)
            self._per_query = pd.DataFrame(rows, columns=["stage", "language", "measure", "qid", "value"])
        return self._per_query

    def compare(
        self,
        baseline: str | None = None,
        measures: list[str] | None = None,
        test: str = "randomization",
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """Each stage against ``baseline`` (default: the first stage), as ``rankfw compare OUT``:
        columns ``system, language, measure, value, p_value, significant`` (``+`` / ``-`` / ``""``;
        Holm-corrected paired tests); the ``mean`` rows have no p-value."""
        import pandas as pd

        from rankfw.run.compare import compare, systems_from_paths
        from rankfw.run.evaluate import parse_measures

        if test not in ("randomization", "t-test"):
            raise InputError(f"unknown test {test!r} (randomization or t-test)", "compare")
        names = list(measures or self.measures)
        parse_measures(names)
        systems = systems_from_paths([self.output_dir])
        if not self.qrels:
            raise InputError("the pipeline's dataset has no qrels: nothing to compare", "dataset.qrels")
        result = compare(systems, self.qrels, names, baseline, test, alpha)  # type: ignore[arg-type]
        rows = []
        for system, by_language in result.values.items():
            for lang in [*result.languages, "mean"]:
                for m in names:
                    p = result.p_values.get(system, {}).get(lang, {}).get(m)
                    mark = result.mark(system, lang, m) if lang != "mean" else ""
                    rows.append((system, lang, m, by_language[lang][m], p, mark))
        return pd.DataFrame(rows, columns=["system", "language", "measure", "value", "p_value", "significant"])
