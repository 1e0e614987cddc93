"""``rankfw compare --heldout``: held-out means beside evaluation means; selection in the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core import Run, StageContext, Trainer, TrainingInput, hookimpl
from rankfw.core.registry import Registry
from rankfw.models import SelectionParams, Selector
from rankfw.run.evaluate import evaluate
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 50}}
  first_ho: {kind: retrieve, component: overlap, params: {k: 50}, topics: heldout}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  pick: {kind: train, component: overlap-picker, params: {select_on: heldout}}
"""


class OverlapPicker(Trainer):
    """Scores held-out passages by word overlap with a growing stop list (test): writes selection.json."""

    description = "picks a checkpoint on held-out questions (test)"
    Config = SelectionParams

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        selector = Selector(inputs, self.config, ctx.stage)  # type: ignore[arg-type]
        for step, useful in enumerate([True, True, False]):  # two overlap "checkpoints", then one that scores nothing
            selector.evaluate(_overlap_scorer(useful), step, step)
        selector.write(output_dir)


def _overlap_scorer(useful: bool) -> Callable[[list[str], list[list]], list[list[float]]]:  # type: ignore[type-arg]
    def score(queries: list[str], passages: list[list]) -> list[list[float]]:  # type: ignore[type-arg]
        words = [set(q.lower().split()) for q in queries]
        return [[float(len(w & set(d.contents.lower().split()))) if useful else 0.0 for d in docs]
                for w, docs in zip(words, passages)]

    return score


class _Plugin:
    @staticmethod
    @hookimpl
    def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
        register("overlap-picker", OverlapPicker)


def _finished_run(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> Runner:  # type: ignore[no-untyped-def]
    """STAGES run on xquad's en and de with one article fold of three held out."""
    registry.add_plugin(_Plugin(), "picker")
    extra = "  holdout_group_by: 'docid:^(xq-\\d+)-'\n  holdout_folds: 3\n  holdout_fold: 1\n"
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", STAGES, extra=extra)
    runner = Runner(load_spec(spec, registry), output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
    runner.run()
    return runner


def test_compare_heldout_adds_the_heldout_mean_and_the_manifest_records_the_selection(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, cli_registry: Registry  # type: ignore[no-untyped-def]
) -> None:
    runner = _finished_run(tmp_path, xquad, registry, write_spec)
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "-m", "nDCG@10", "--json", "--heldout"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["values"]) == {"first", "re"} and set(data["heldout"]) == {"first"}
    for lang in ("en", "de"):
        _, qrels = runner.data[lang].topic_set("heldout")
        expected = evaluate(Run.read_trec(tmp_path / "out/stages/first_ho" / f"{lang}.run"), qrels, ["nDCG@10"])
        assert data["heldout"]["first"][lang]["nDCG@10"] == pytest.approx(expected["nDCG@10"])
    assert data["heldout"]["first"]["mean"]["nDCG@10"] != pytest.approx(data["values"]["first"]["mean"]["nDCG@10"])
    table = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "-m", "nDCG@10", "--heldout", "--markdown"])
    assert "held-out mean" in table.stdout and f"{data['heldout']['first']['mean']['nDCG@10']:.4f}" in table.stdout
    # the selection: the overlap checkpoints beat the one that scores nothing; the earliest best wins
    selection = json.loads((tmp_path / "out/stages/pick/manifest.json").read_text())["selection"]["model"]
    values = [c["value"] for c in selection["checkpoints"]]
    assert values[0] == values[1] > values[2] and selection["winner"]["step"] == 0
    assert selection["questions"] == {lang: len(runner.data[lang].heldout_qids) for lang in ("en", "de")}
    assert "qids" not in selection


def test_compare_heldout_without_a_heldout_stage_is_an_input_error(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, cli_registry: Registry  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", "  first: {kind: retrieve, component: overlap}\n")
    Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").run()
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "--heldout"])
    assert result.exit_code == 2 and "no system has a held-out sibling" in result.output


def test_a_heldout_question_the_run_has_no_hits_for_counts_0_in_the_heldout_mean(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    from rankfw.run.heldout import heldout_values
    from rankfw.run.systems import System

    runner = _finished_run(tmp_path, xquad, registry, write_spec)
    _, qrels = runner.data["en"].topic_set("heldout")
    path = tmp_path / "out/stages/first_ho/en.run"
    run = Run.read_trec(path)
    found = [q for q in run if q in qrels and evaluate(Run({q: run[q]}), qrels, ["nDCG@10"])["nDCG@10"] > 0]
    Run({q: run[q] for q in run if q != found[0]}).write_trec(path)  # a question it now has no hits for
    system = System("first", {}, stage_dir=tmp_path / "out/stages/first", folder=tmp_path / "out")
    value = heldout_values([system], ["nDCG@10"])["first"]["en"]["nDCG@10"]
    shorter = Run.read_trec(path)
    assert value == pytest.approx(evaluate(shorter, qrels, ["nDCG@10"], topics=qrels)["nDCG@10"])
    assert value < evaluate(shorter, qrels, ["nDCG@10"])["nDCG@10"]  # not the mean of the questions it answers
