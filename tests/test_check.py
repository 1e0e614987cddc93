"""``rankfw check OUT_DIR EXPECTED``: the shipped expected scores against real runs, and what fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rankfw.check import read_expected
from rankfw.cli import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
LANGUAGES = ("en", "de")


def rankfw(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (the pyserini JVM stays out of the test process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "rankfw", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=900)


def subset(expected: Path, languages: tuple[str, ...], out: Path) -> Path:
    """The lines of ``expected`` for ``languages`` only (the header and comments kept)."""
    keep = [line for line in expected.read_text().splitlines()
            if not line.strip() or line.startswith(("#", "stage\t")) or line.split("\t")[1] in languages]
    out.write_text("\n".join(keep) + "\n")
    return out


@pytest.fixture(scope="module")
def bm25_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/xquad-bm25.yaml run for two languages (a fresh cache: the indexes are built here)."""
    tmp = tmp_path_factory.mktemp("xquad-bm25")
    done = rankfw("run", str(EXAMPLES / "xquad-bm25.yaml"), "--set", f"dataset.languages=[{','.join(LANGUAGES)}]",
                  "--out", str(tmp / "out"), "--cache", str(tmp / "cache"))
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp / "out"


def test_shipped_bm25_scores_hold_on_a_real_run(bm25_run: Path, tmp_path: Path) -> None:
    expected = subset(EXAMPLES / "xquad-bm25.expected", LANGUAGES, tmp_path / "two.expected")
    assert {e.language for e in read_expected(expected)} == set(LANGUAGES)
    done = rankfw("check", str(bm25_run), str(expected))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok    bm25/") == 2 * len(LANGUAGES)
    assert "all 4 expected scores hold" in done.stdout


def test_a_moved_score_exits_1_naming_it(bm25_run: Path, tmp_path: Path) -> None:
    lines = subset(EXAMPLES / "xquad-bm25.expected", LANGUAGES, tmp_path / "two.expected").read_text().splitlines()
    moved = []
    for i, line in enumerate(lines):
        cells = line.split("\t")
        if cells[0] == "bm25" and cells[1] == "de" and cells[2] == "nDCG@10":
            cells[3] = f"{float(cells[3]) + 0.01:.4f}"  # ten times a tolerance away
            lines[i] = "\t".join(cells)
            moved.append(cells)
    assert len(moved) == 1
    (tmp_path / "moved.expected").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["check", str(bm25_run), str(tmp_path / "moved.expected")])
    assert result.exit_code == 1
    assert "MOVED bm25/de/nDCG@10" in result.output
    assert "1 of 4 scores moved beyond their tolerance: bm25/de/nDCG@10" in result.output
    assert "ok    bm25/en/nDCG@10" in result.output


def test_missing_scores_fail_and_bad_files_are_input_errors(bm25_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "missing.expected"
    missing.write_text("stage\tlanguage\tmeasure\texpected\ttolerance\nbm25\tth\tnDCG@10\t0.79\t0.001\n")
    result = runner.invoke(main, ["check", str(bm25_run), str(missing)])
    assert result.exit_code == 1 and "bm25/th/nDCG@10: expected 0.7900 +- 0.001, missing from the run" in result.output
    bad = tmp_path / "bad.expected"
    bad.write_text("stage\tlanguage\tmeasure\texpected\ttolerance\n# a comment\nbm25\ten\tnDCG@10\thigh\t0.001\n")
    result = runner.invoke(main, ["check", str(bm25_run), str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3" in result.output and "expected 'high' is not a number" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    result = runner.invoke(main, ["check", str(tmp_path), str(EXAMPLES / "xquad-bm25.expected")])
    assert result.exit_code == 2 and "no metrics.json" in result.output
    (tmp_path / "metrics.json").write_text(json.dumps({"stages": []}))
    result = runner.invoke(main, ["check", str(tmp_path), str(EXAMPLES / "xquad-bm25.expected")])
    assert result.exit_code == 2 and "not a rankfw metrics file" in result.output


def test_every_shipped_expected_file_parses() -> None:
    files = sorted(EXAMPLES.glob("*.expected"))
    assert {f.name for f in files} >= {"xquad-bm25.expected", "quickstart.expected"}
    for path in files:
        specs = read_expected(path)
        assert all(0 <= s.expected <= 1 and 0 < s.tolerance <= 0.01 for s in specs if s.language == "mean"), path
        # a single language of a neural stage may move by up to .018 between CPUs (xquad.expected)
        assert all(0 < s.tolerance <= 0.02 for s in specs), path
        assert all(s.tolerance <= 0.001 for s in specs if s.stage.startswith("bm25")), path
        # each file checks the spec of its name: its stages, languages and measures are that spec's
        spec = yaml.safe_load(path.with_suffix(".yaml").read_text())
        assert {s.stage for s in specs} <= set(spec["stages"]), path
        assert {s.language for s in specs} <= {*spec["dataset"]["languages"], "mean"}, path
        assert {s.measure for s in specs} <= set(spec["metrics"]), path


@pytest.mark.slow
def test_quickstart_scores_hold(tmp_path: Path) -> None:
    """The whole quickstart (real e5 weights, four languages): bm25, e5 and rrf against their expected scores."""
    done = rankfw("run", str(EXAMPLES / "quickstart.yaml"), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    done = rankfw("check", str(tmp_path / "out"), str(EXAMPLES / "quickstart.expected"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_shipped_fusion_scores_hold_and_write_round_trips(tmp_path: Path) -> None:
    """examples/xquad-fusion.yaml (BM25 runs, RRF and held-out-tuned weighted fusion) reproduces its
    expected file; ``--write`` of that run gives a file that checks, and only the stages asked for."""
    out = tmp_path / "out"
    done = rankfw("run", str(EXAMPLES / "xquad-fusion.yaml"), "--out", str(out), "--cache", str(tmp_path / "cache"))
    assert done.returncode == 0, done.stderr[-2000:]
    done = rankfw("check", str(out), str(EXAMPLES / "xquad-fusion.expected"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 32 expected scores hold" in done.stdout
    written = tmp_path / "fused.expected"
    result = CliRunner().invoke(main, ["check", str(out), str(written), "--write", "--stage", "fused", "--tolerance", "0.002"])
    assert result.exit_code == 0 and "wrote 8 expected scores" in result.output
    specs = read_expected(written)
    assert {s.stage for s in specs} == {"fused"} and {s.tolerance for s in specs} == {0.002}
    shipped = {s.name: s.expected for s in read_expected(EXAMPLES / "xquad-fusion.expected")}
    assert all(shipped[s.name] == s.expected for s in specs)
    assert CliRunner().invoke(main, ["check", str(out), str(written)]).exit_code == 0
    result = CliRunner().invoke(main, ["check", str(out), str(written), "--write", "--stage", "nope"])
    assert result.exit_code == 2 and "no evaluated stage nope" in result.output
