"""rankfw compare: significance tests, Holm correction, tables, chart and HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core.registry import Registry
from rankfw.run.compare import holm, paired_test
from rankfw.run.runner import Runner
from rankfw.spec import load_spec


def test_holm_by_hand() -> None:
    # sorted p: .01 (x4 = .04), .02 (x3 = .06), .03 (x2 = .06 monotone), .04 (x1 = .06 monotone)
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_paired_tests_find_a_real_difference_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 200)
    better = np.clip(base + 0.1 + rng.normal(0, 0.05, 200), 0, 1)
    noise = base + rng.normal(0, 0.05, 200)
    for test in ("randomization", "t-test"):
        assert paired_test(better, base, test, resamples=2000) < 0.001  # type: ignore[arg-type]
        assert paired_test(noise, base, test, resamples=2000) > 0.05  # type: ignore[arg-type]
    assert paired_test(base, base, "randomization") == 1.0


def test_compare_output_folder_marks_wins_and_writes_chart_and_report(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, cli_registry: Registry  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 50}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  first_train: {kind: retrieve, component: overlap, params: {k: 50}, topics: train}
""")
    Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").run()
    assert (tmp_path / "out" / "stages" / "first_train" / "en.run").is_file()
    png, report = tmp_path / "chart.png", tmp_path / "report.html"
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "--baseline", "first", "-m", "nDCG@10",
                                       "--json", "--png", str(png), "--html", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["languages"] == ["en", "de"] and data["correction"] == "holm"
    assert set(data["values"]) == {"first", "re"}  # a stage on the training questions is not compared
    assert data["significant"]["re"] == {"de": {"nDCG@10": "+"}, "en": {"nDCG@10": "+"}}
    assert data["values"]["re"]["mean"]["nDCG@10"] > data["values"]["first"]["mean"]["nDCG@10"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    page = report.read_text()
    assert "data:image/png;base64," in page and "class='win'" in page and "http" not in page.replace("<!doctype html>", "")
    table = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "--baseline", "first", "-m", "nDCG@10"])
    assert "+" in table.stdout and "re" in table.stdout
    md = CliRunner().invoke(main, ["compare", str(tmp_path / "out"), "--baseline", "first", "-m", "nDCG@10", "--markdown"])
    rows = [line for line in md.stdout.splitlines() if line.startswith("|")]
    assert rows[0] == "| system | en | de | mean |" and rows[1] == "|---|---|---|---|"
    re_row = next(r for r in rows if r.startswith("| re |")).split(" | ")
    assert re_row[1].endswith("+") and re_row[2].endswith("+")
    assert float(re_row[3].rstrip(" |")) == pytest.approx(data["values"]["re"]["mean"]["nDCG@10"], abs=1e-4)


def test_compare_run_files_need_qrels(tmp_path: Path, xquad: Path) -> None:
    run = tmp_path / "a.run"
    run.write_text("56de0daecffd8e1900b4b596 Q0 xq-02-1-2 1 3.0 t\n")
    result = CliRunner().invoke(main, ["compare", str(run)])
    assert result.exit_code == 2 and "run files need --qrels" in result.stderr
    ok = CliRunner().invoke(main, ["compare", str(run), "--qrels", str(xquad / "en/qrels.dev.txt"), "--json"])
    assert ok.exit_code == 0, ok.output
    # scored over the asked query (the run's), not diluted by the 257 judged queries never asked
    assert json.loads(ok.stdout)["values"]["a"]["all"]["nDCG@10"] == pytest.approx(1.0)
