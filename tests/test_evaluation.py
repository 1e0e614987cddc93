"""Evaluation semantics: scored over the judged queries among the asked topics (trec_eval -c over
the asked topics), equal to ir_measures; per-query values; rankfw eval's counts, warnings, errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import ir_measures
import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core import InputError, Run
from rankfw.core.registry import Registry
from rankfw.data import read_qrels, read_topics
from rankfw.run.evaluate import evaluate, evaluate_full
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

MEASURES = ["nDCG@10", "R@100", "RR@10", "AP@100", "P@5"]


def _random(n: int, seed: int = 0) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    rng = random.Random(seed)
    run = {f"q{q}": {f"d{rng.randrange(60)}": rng.random() for _ in range(40)} for q in range(n)}
    qrels = {q: {d: rng.choice([0, 1, 2]) for d in rng.sample(sorted(docs), 4)} | {"unseen": 1} for q, docs in run.items()}
    return run, qrels


def test_equals_ir_measures_and_trec_eval_c_over_the_asked_topics() -> None:
    run, qrels = _random(60)
    asked = sorted(run)[:40]
    missed = asked[:5]  # asked and judged, but the run has nothing for them
    partial = {q: docs for q, docs in run.items() if q not in missed}
    qrels["never-asked"] = {"d1": 1}
    result = evaluate_full(Run.from_scores(partial), qrels, MEASURES, topics=asked)
    # trec_eval -c over the asked topics = ir_measures on the qrels of the asked topics (it fills
    # judged queries missing from the run with 0), over the run's asked queries
    asked_qrels = {q: qrels[q] for q in asked}
    peer = ir_measures.calc_aggregate([ir_measures.parse_measure(m) for m in MEASURES], asked_qrels,
                                      {q: partial[q] for q in asked if q in partial})
    for m in MEASURES:
        assert result.means[m] == pytest.approx(peer[ir_measures.parse_measure(m)], abs=1e-12), m
    assert (result.asked, result.judged, result.missing) == (40, 40, 5)
    assert all(result.per_query["nDCG@10"][q] == 0.0 for q in missed)
    # per-query values equal ir_measures' own, query by query
    peer_q = {(m.query_id, str(m.measure)): m.value for m in ir_measures.iter_calc(
        [ir_measures.parse_measure("nDCG@10")], asked_qrels, {q: partial[q] for q in asked if q in partial})}
    assert {q: v for q, v in result.per_query["nDCG@10"].items()} == pytest.approx(
        {q: peer_q.get((q, "nDCG@10"), 0.0) for q in asked})
    assert "the run answers 35 of the 40 asked queries" in result.warnings


def test_default_asked_topics_are_the_runs_queries() -> None:
    run, qrels = _random(30, seed=1)
    some = {q: run[q] for q in sorted(run)[:3]}
    ours = evaluate(Run.from_scores(some), qrels, ["nDCG@10"])["nDCG@10"]
    peer = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], {q: qrels[q] for q in some}, some)[ir_measures.nDCG @ 10]
    assert ours == pytest.approx(peer) and ours > 0
    # the old mean over every judged query of the qrels would be 10x smaller
    assert ours > 5 * sum(evaluate_full(Run.from_scores(some), qrels, ["nDCG@10"]).per_query["nDCG@10"].values()) / len(qrels)


def test_a_spec_on_five_topics_scores_those_five(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data" / "en"
    data.mkdir(parents=True)
    for name in ("corpus.jsonl", "qrels.dev.txt", "train.jsonl.gz"):
        (data / name).write_bytes((xquad / "en" / name).read_bytes())
    topics = (xquad / "en" / "topics.dev.tsv").read_text(encoding="utf-8").splitlines()[:5]
    (data / "topics.dev.tsv").write_text("\n".join(topics) + "\n", encoding="utf-8")
    spec = write_spec(tmp_path / "s.yaml", tmp_path / "data", tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 50}}
""", languages="[en]")
    result = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").run()
    value = result.metrics["stages"]["first"]["languages"]["en"]["nDCG@10"]
    run = Run.read_trec(tmp_path / "out/stages/first/en.run")
    qrels = read_qrels(data / "qrels.dev.txt")
    five = list(read_topics(data / "topics.dev.tsv"))
    peer = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], {q: qrels[q] for q in five}, run.scores())
    assert value == pytest.approx(peer[ir_measures.nDCG @ 10])
    assert value > 0.3  # not 5/258 of it
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    per_query = metrics["per_query"]["first"]["en"]["nDCG@10"]
    assert set(per_query) == set(five)
    assert sum(per_query.values()) / 5 == pytest.approx(value)
    assert metrics["queries"]["first"]["en"] == {"asked": 5, "judged": 5, "missing": 0}


def _files(tmp_path: Path) -> tuple[Path, Path]:
    run = tmp_path / "r.run"
    run.write_text("a Q0 d1 1 3.0 t\na Q0 d2 2 2.0 t\nb Q0 d3 1 3.0 t\nb Q0 d1 2 2.0 t\n")
    qrels = tmp_path / "q.txt"
    qrels.write_text("a 0 d1 1\nb 0 d1 1\nc 0 d9 1\n")
    return run, qrels


def test_eval_command_counts_per_query_and_topics(tmp_path: Path) -> None:
    run, qrels = _files(tmp_path)
    result = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "RR@10", "--json", "--per-query"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mean"]["RR@10"] == pytest.approx(0.75)  # a: 1, b: 1/2; c was never asked
    assert data["per_query"]["RR@10"] == {"a": 1.0, "b": 0.5}
    assert "scored 2 judged queries of 2 asked; 0 judged queries not found in the run" in result.stderr
    topics = tmp_path / "topics.tsv"
    topics.write_text("a\tfirst\nb\tsecond\nc\tthird\n")
    with_topics = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "RR@10", "--topics", str(topics)])
    assert with_topics.exit_code == 0, with_topics.output
    assert with_topics.stdout.strip() == "RR@10\t0.5000"  # c was asked, the run misses it: 0
    assert "1 judged queries not found in the run" in with_topics.stderr
    assert "warning: the run answers 2 of the 3 asked queries" in with_topics.stderr
    table = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "RR@10", "--per-query"])
    assert table.stdout.splitlines() == ["RR@10\ta\t1.0000", "RR@10\tb\t0.5000", "RR@10\tall\t0.7500"]


def test_eval_with_no_shared_qid_is_an_error(tmp_path: Path) -> None:
    run, _ = _files(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("x 0 d1 1\n")
    result = CliRunner().invoke(main, ["eval", str(run), str(other)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {run}: the run and the qrels share no judged query id"), result.stderr


def test_eval_warns_when_few_asked_topics_are_judged(tmp_path: Path) -> None:
    run = tmp_path / "r.run"
    run.write_text("".join(f"q{i} Q0 d1 1 1.0 t\n" for i in range(4)))
    qrels = tmp_path / "q.txt"
    qrels.write_text("q0 0 d1 1\n")
    result = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "RR@10"])
    assert result.exit_code == 0
    assert "warning: only 1 of the 4 asked queries are judged" in result.stderr
    assert result.stdout.strip() == "RR@10\t1.0000"


def test_topics_whose_qrels_judge_none_of_them_are_refused_before_anything_runs(
    tmp_path: Path, tiny: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    (tiny / "de" / "qrels.dev.txt").write_text("other 0 d1 1\n")
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", "  first: {kind: retrieve, component: overlap}\n")
    with pytest.raises(InputError, match="no relevant judgement for any of the 2 topics"):  # not a 0.0000 for de
        Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").run()
    assert not (tmp_path / "out" / "stages").exists()


def test_evaluating_in_groups_from_lists_or_columns_equals_one_ir_measures_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import rankfw.run.evaluate as evaluation

    run, qrels = _random(50, seed=3)
    run["q7"] = {}  # answered without hits: 0, not missing
    asked = [f"q{i}" for i in range(45)] + ["q-missing"]
    qrels["q-missing"] = {"d1": 1}
    qrels["q3"] = {"d1": 0}  # judged, nothing relevant: not scored
    peer_run = {q: run[q] for q in asked if run.get(q)}
    peer = {m: v for m, v in ir_measures.calc_aggregate([ir_measures.parse_measure(m) for m in MEASURES],
                                                       {q: qrels[q] for q in asked if q != "q3"}, peer_run).items()}
    whole = evaluate_full(Run.from_scores(run), qrels, MEASURES, topics=asked)
    monkeypatch.setattr(evaluation, "GROUP_HITS", 37)  # a group is about one query
    for built in (Run.from_scores(run), Run.from_columns(Run.from_scores(run).columns())):
        grouped = evaluate_full(built, qrels, MEASURES, topics=asked)
        assert grouped.per_query == whole.per_query and grouped.means == whole.means
        assert list(grouped.per_query["nDCG@10"]) == list(whole.per_query["nDCG@10"])
        assert (grouped.asked, grouped.judged, grouped.missing, grouped.answered) == (46, 45, 1, 45)
    assert whole.per_query["nDCG@10"]["q7"] == 0.0 and "q3" not in whole.per_query["nDCG@10"]
    for m in MEASURES:  # ir_measures too counts the judged queries the run misses (q7, q-missing) as 0
        assert whole.means[m] == pytest.approx(peer[ir_measures.parse_measure(m)], abs=1e-12), m
