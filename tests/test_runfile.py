"""The built-in ``runfile`` retriever: an existing TREC run re-ranked and fused in a spec, checked
(qids in the topics, docids in the corpus) before any stage runs, and its content in the cache key."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import rankfw_testplugin
from click.testing import CliRunner

from rankfw.builtin import runfile
from rankfw.cli import main
from rankfw.core.registry import Registry, load_registry
from rankfw.core.runs import Run
from rankfw.run.evaluate import evaluate
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

STAGES = """  first: {kind: retrieve, component: runfile, params: {path: "@RUNS@/{lang}.run.gz", k: 3}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf"}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
"""


@pytest.fixture
def run_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The test plugin plus the built-in plugins (as an installed rankfw has them), for the CLI too."""
    import rankfw.core.registry as reg

    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin), ("runfile", runfile)], use_entry_points=False)
    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    return registry


def _write_runs(folder: Path, lines: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for lang, text in lines.items():
        (folder / f"{lang}.run.gz").write_bytes(gzip.compress(text.encode()))
    return folder


GOOD = "q1 Q0 d3 1 9.0 other\nq1 Q0 d1 2 8.0 other\nq1 Q0 d2 3 7.0 other\nq1 Q0 d4 4 6.0 other\nq2 Q0 d4 1 3.0 other\nq2 Q0 d2 2 2.5 other\n"


def _spec(tmp_path: Path, tiny: Path, runs: Path, write_spec) -> Path:  # type: ignore[no-untyped-def]
    return write_spec(tmp_path / "spec.yaml", tiny, tmp_path / "out", STAGES.replace("@RUNS@", str(runs)))


def test_builtin_plugin_is_registered_with_the_installed_ones() -> None:
    info = load_registry().get("retriever", "runfile")
    assert info.distribution == "rankfw" and info.cls is runfile.RunFileRetriever


def test_a_run_file_is_reranked_and_fused(tmp_path: Path, tiny: Path, run_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    runs = _write_runs(tmp_path / "runs", {"en": GOOD, "de": GOOD})
    pipeline = load_spec(_spec(tmp_path, tiny, runs, write_spec), run_registry)
    result = Runner(pipeline, cache_dir=tmp_path / "cache").run()
    first = Run.read_trec(result.output_dir / "stages" / "first" / "en.run")
    assert [d for d, _ in first["q1"]] == ["d3", "d1", "d2"]  # k: 3 of the file's 4, in its order
    assert [d for d, _ in first["q2"]] == ["d4", "d2"]
    reranked = Run.read_trec(result.output_dir / "stages" / "re" / "en.run")
    assert reranked["q1"][0][0] == "d1"  # "which animals purr": the idf reranker moves the cat document up
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    assert result.metrics["stages"]["first"]["languages"]["en"] == evaluate(first, qrels, ["nDCG@10", "R@100"])
    assert result.metrics["stages"]["re"]["mean"]["nDCG@10"] > result.metrics["stages"]["first"]["mean"]["nDCG@10"]
    assert set(result.metrics["stages"]) == {"first", "re", "fused"}

    again = Runner(load_spec(_spec(tmp_path, tiny, runs, write_spec), run_registry), cache_dir=tmp_path / "cache").run()
    assert again.stages["first"].cached == ["en", "de"]
    # a changed run file (same path and params) recomputes that language of the stage and what depends on it
    _write_runs(runs, {"de": GOOD.replace("q1 Q0 d3 1 9.0", "q1 Q0 d3 1 1.0")})
    third = Runner(load_spec(_spec(tmp_path, tiny, runs, write_spec), run_registry), cache_dir=tmp_path / "cache").run()
    assert third.stages["first"].computed == ["de"] and third.stages["re"].computed == ["de"]
    assert third.stages["first"].cached == ["en"] and third.stages["re"].cached == ["en"]
    de = Run.read_trec(third.output_dir / "stages" / "first" / "de.run")
    assert [d for d, _ in de["q1"]] == ["d1", "d2", "d4"]  # d3 fell below d4: cut by k


def test_topics_missing_from_the_run_get_an_empty_ranking(tmp_path: Path, tiny: Path, run_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    only_q1 = "".join(line + "\n" for line in GOOD.splitlines() if line.startswith("q1"))
    runs = _write_runs(tmp_path / "runs", {"en": only_q1, "de": GOOD})
    logged: list[str] = []
    pipeline = load_spec(_spec(tmp_path, tiny, runs, write_spec), run_registry)
    result = Runner(pipeline, cache_dir=tmp_path / "cache", log=logged.append).run()
    assert any("1 of 2 topics have no hits" in m for m in logged)
    assert result.metrics["stages"]["first"]["languages"]["en"]["R@100"] == 0.5


@pytest.mark.parametrize(
    ("en_run", "message"),
    [
        (GOOD.replace("q2 Q0 d4", "q9 Q0 d4"), r"the run names 1 query id\(s\) that are not in the topics, e.g. 'q9'"),
        (GOOD.replace("q2 Q0 d2", "q2 Q0 d77"), r"the run names 1 docid\(s\) that are not in the corpus, e.g. 'd77'"),
        ("q1 Q0 d1 one 1.0 x\n", r"en.run.gz:1: rank must be an integer"),
        (None, r"en.run.gz: run file not found"),
        ("", r"en.run.gz: the run file has no hits"),
    ],
)
def test_a_bad_run_file_stops_before_anything_runs(  # type: ignore[no-untyped-def]
    tmp_path: Path, tiny: Path, run_registry: Registry, write_spec, en_run: str | None, message: str
) -> None:
    runs = _write_runs(tmp_path / "runs", {"de": GOOD} if en_run is None else {"en": en_run, "de": GOOD})
    spec = _spec(tmp_path, tiny, runs, write_spec)
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()  # the idf train stage (first in order) did not run either


def test_validate_reads_the_run_files(tmp_path: Path, tiny: Path, run_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    runs = _write_runs(tmp_path / "runs", {"en": GOOD, "de": GOOD})
    spec = _spec(tmp_path, tiny, runs, write_spec)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert "stages.first: TREC run files, 4 queries in all [en, de]" in result.stdout
    (runs / "de.run.gz").unlink()
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 2 and f"error: stages.first.params.path [de]: run file not found: {runs / 'de.run.gz'}" in result.stderr
    _write_runs(runs, {"de": "q1 Q0 d1 1 nan x\n"})
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 2 and "de.run.gz:1: score is not finite" in result.stderr, result.output


EXAMPLE = Path(__file__).parent.parent / "examples" / "rerank-a-run.yaml"


def test_the_example_spec_and_its_shipped_runs_pass_the_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """examples/rerank-a-run.yaml validates, and its shipped run files name only topics and corpus docids."""
    monkeypatch.chdir(EXAMPLE.parent.parent)
    pipeline = load_spec(EXAMPLE, load_registry())
    runner = Runner(pipeline, cache_dir=tmp_path / "cache")
    runner.check_inputs()  # reads every shipped run file against the topics and the corpus index
    for lang in pipeline.spec.dataset.languages:
        run = Run.read_trec(Path(f"examples/runs/xquad-bm25/{lang}.run.gz"))
        topics, qrels = runner.data[lang].topic_set("eval")
        assert set(run) <= set(topics) and len(run) >= len(topics) - 1
        assert evaluate(run, qrels, ["R@100"])["R@100"] > 0.85  # BM25's top 100, not a toy run


@pytest.mark.slow
def test_the_example_reranks_the_shipped_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(EXAMPLE.parent.parent)
    result = CliRunner().invoke(main, ["run", str(EXAMPLE), "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["stages"]
    assert metrics["e5"]["mean"]["nDCG@10"] > metrics["run"]["mean"]["nDCG@10"]
    assert metrics["rrf"]["mean"]["nDCG@10"] > metrics["run"]["mean"]["nDCG@10"]
