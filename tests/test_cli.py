"""The command line: plugins list, components show, eval, run; exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core.registry import Registry


def test_plugins_list_json(cli_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    names = {(c["kind"], c["name"]) for c in data["components"]}
    assert names == {("retriever", "overlap"), ("reranker", "idf-overlap"), ("trainer", "idf"), ("fuser", "sum")}
    assert all(c["description"] and c["version"] == "0.1.0" for c in data["components"])
    assert data["broken"] == []


def test_plugins_list_table_shows_broken_plugins(cli_registry: Registry) -> None:
    from rankfw.core.registry import BrokenPlugin

    cli_registry.broken.append(BrokenPlugin("oops", "rankfw-oops", "1.2", "ImportError: no module named torchx"))
    result = CliRunner().invoke(main, ["plugins", "list"])
    assert result.exit_code == 0
    assert "idf-overlap" in result.stdout
    assert "broken plugin oops (rankfw-oops 1.2): ImportError: no module named torchx" in result.stderr


def test_components_show_json(cli_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["components", "show", "overlap", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["kind"] == "retriever" and info["defaults"] == {"k": 100, "seconds_per_query": 0.0}
    assert info["config_schema"]["properties"]["k"]["exclusiveMinimum"] == 0
    assert [p["name"] for p in info["parameters"]] == ["k", "seconds_per_query"]
    assert info["code_files"] == ["rankfw_testplugin.__init__"]  # what an edit of it recomputes
    assert info["libraries"]["pydantic"] == metadata.version("pydantic")  # and an upgrade of what it imports
    missing = CliRunner().invoke(main, ["components", "show", "overlab"])
    assert missing.exit_code == 2 and "did you mean 'overlap'?" in missing.stderr


def _rows(text: str) -> dict[str, list[str]]:
    """The rows of a rich table by their first cell (one-line rows only)."""
    out = {}
    for line in text.splitlines():
        line = line.replace("┃", "│").strip()
        if not (line.startswith("│") and line.endswith("│")):
            continue
        cells = [c.strip() for c in line[1:-1].split("│")]
        if len(cells) > 1 and cells[0]:
            out[cells[0]] = cells
    return out


def test_components_show_table(cli_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["components", "show", "idf-overlap"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "idf-overlap (reranker) from testplugin 0.1.0" in out
    assert "Code in its cache key: rankfw_testplugin.__init__\n" in out
    assert cli_registry.get("reranker", "idf-overlap").description in out
    rows = _rows(out)
    assert rows["name"] == ["name", "type", "default", "required", "description"]
    assert rows["model"][1:4] == ["str", "", "yes"] and rows["model"][4].startswith("folder holding idf.json")
    assert rows["k"][1:4] == ["int > 0", "100", ""]
    assert rows["fail_on"][1:4] == ["str, optional", "None", ""]
    assert rows["seconds_per_query"][1:3] == ["float >= 0", "0.0"]
    assert "anyOf" not in out and "null" not in out


def test_components_list(cli_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["components", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert rows["overlap"][1:3] == ["retriever", "testplugin"]
    assert rows["idf"][1:3] == ["trainer", "testplugin"]
    assert rows["sum"] == ["sum", "fuser", "testplugin", "Sum of scores (test fuser)"]
    data = json.loads(CliRunner().invoke(main, ["components", "list", "--kind", "reranker", "--json"]).stdout)
    assert [(c["name"], c["kind"]) for c in data] == [("idf-overlap", "reranker")]


def test_eval_command(tmp_path: Path, xquad: Path) -> None:
    run = tmp_path / "r.run"
    run.write_text("56de0daecffd8e1900b4b596 Q0 xq-02-1-2 1 3.0 t\n56de0daecffd8e1900b4b596 Q0 xq-02-1-1 2 2.0 t\n"
                   "56de0daecffd8e1900b4b595 Q0 xq-02-1-2 1 3.0 t\n56de0daecffd8e1900b4b595 Q0 xq-02-1-3 2 2.0 t\n")
    qrels = tmp_path / "q.txt"
    qrels.write_text("56de0daecffd8e1900b4b596 0 xq-02-1-2 1\n56de0daecffd8e1900b4b595 0 xq-02-1-3 1\n")
    result = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "nDCG@10", "-m", "RR@10", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)
    # q1: relevant at rank 1 -> 1.0; q2: relevant at rank 2 -> nDCG 1/log2(3), RR 0.5
    assert abs(values["nDCG@10"] - (1 + 1 / 1.584962500721156) / 2) < 1e-9
    assert abs(values["RR@10"] - 0.75) < 1e-9
    bad = CliRunner().invoke(main, ["eval", str(qrels), str(qrels)])
    assert bad.exit_code == 2 and f"{qrels}:1: expected 6 columns" in bad.stderr


def test_run_prints_metrics_and_exit_1_on_failure(tmp_path: Path, xquad: Path, cli_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 10}}
""", languages="[en]")
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.stdout and "first" in result.stdout
    assert f"outputs in {tmp_path / 'out'}" in result.stdout
    other = CliRunner().invoke(main, ["run", str(spec), "--out", str(tmp_path / "elsewhere"), "--cache", str(tmp_path / "cache"),
                                      "--set", "stages.first.params.k=5"])
    assert other.exit_code == 0 and (tmp_path / "elsewhere/stages/first/en.run").is_file()
    failing = write_spec(tmp_path / "f.yaml", xquad, tmp_path / "out2", """\
  first: {kind: retrieve, component: overlap, params: {k: 10}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", fail_on: 56dde1d966d3e219004dad8d}}
""", languages="[en]")
    failed = CliRunner().invoke(main, ["run", str(failing), "--cache", str(tmp_path / "cache")])
    assert failed.exit_code == 1
    assert "run failed: stage 're' failed: [en] RuntimeError: asked to fail on 56dde1d966d3e219004dad8d" in failed.stderr


def test_metrics_table_prints_whole_in_a_batch_log() -> None:
    """Piped to a file (a batch job's log, no terminal, no $COLUMNS), the stages x 11 languages table
    keeps every value: rich's default 80 columns cut each cell to '0.…'."""
    import os
    import subprocess
    import sys

    languages = "ar de el en es hi ru th tr vi zh".split()
    values = {lang: {"nDCG@10": 0.7 + i / 100 + 0.0001} for i, lang in enumerate(languages)}
    metrics = {"measures": ["nDCG@10"], "stages": {"a_long_stage_name": {"languages": values, "mean": {"nDCG@10": 0.75}}}}
    code = ("import json, sys; from rankfw.cli import console; from rankfw.cli_options import print_metrics; "
            "print_metrics(console, json.loads(sys.argv[1]))")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(metrics)], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert "a_long_stage_name" in out
    for i, lang in enumerate(languages):
        assert lang in out and f"{0.7 + i / 100 + 0.0001:.4f}" in out
    assert "…" not in out
