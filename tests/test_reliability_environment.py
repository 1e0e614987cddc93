"""The environment: a full or read-only disk, or an output path that is a file, is one line and
exit 1 or 2, never a traceback; what ir_measures, Lucene or the stage graph cannot take is
refused at validate time, not at the end of a run."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core import InputError, io
from rankfw.core.registry import Registry
from rankfw.spec import parse_spec

STAGES = "  first: {kind: retrieve, component: overlap, params: {k: 3}}\n"


def _fail_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path, name: str, code: int) -> None:
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # type: ignore[no-untyped-def]
        directory = Path(kwargs.get("dir") or args[2])
        prefix = kwargs.get("prefix", "")
        if directory.is_relative_to(folder) and prefix.startswith(f".{name}"):
            raise OSError(code, os.strerror(code), str(directory / name))
        return real(*args, **kwargs)

    monkeypatch.setattr(io.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize(("name", "code"), [("spec.yaml", errno.EROFS), ("metrics.json", errno.ENOSPC),
                                            ("en.key", errno.ENOSPC), ("manifest.json", errno.EDQUOT)])
def test_a_disk_that_refuses_a_write_is_one_line_exit_1(name: str, code: int, tmp_path: Path, tiny: Path,
                                                        cli_registry: Registry, write_spec, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    _fail_writes_under(monkeypatch, tmp_path / "out", name, code)
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and name in lines[-1] and os.strerror(code) in lines[-1], result.stderr
    assert "Traceback" not in result.output


def test_a_read_only_digest_memo_does_not_stop_a_run(tmp_path: Path, tiny: Path, cli_registry: Registry,
                                                     write_spec, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(kwargs["dir"]).name == "digests":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs["dir"])
        return real(*args, **kwargs)

    monkeypatch.setattr(io.tempfile, "mkstemp", mkstemp)
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_an_output_that_is_a_file_is_one_line_exit_2(tmp_path: Path, tiny: Path, cli_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "out").write_text("not a folder")
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert str(tmp_path / "out") in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "out").read_text() == "not a folder"


BASE = """dataset: {root: ROOT, languages: [en, de], corpus: "{root}/{lang}/corpus.jsonl", topics: "{root}/{lang}/topics.dev.tsv"}
metrics: [nDCG@10]
stages:
  first: {kind: retrieve, component: overlap}
"""


@pytest.mark.parametrize(("edit", "expected"), [
    (("metrics: [nDCG@10]", "metrics: [nDCG@10, alpha_nDCG@10]"), r"metrics: measure 'alpha_nDCG@10' cannot be computed .*\(s\.yaml:2\)"),
    (("metrics: [nDCG@10]", "metrics: [NERR8@10]"), r"metrics: measure 'NERR8@10' cannot be computed"),
    (("  first: {kind: retrieve, component: overlap}", ("  first: {kind: retrieve, component: overlap, languages: [en]}\n"
      "  second: {kind: retrieve, component: overlap}\n  fused: {kind: fuse, component: sum, inputs: [second, first]}")),
     r"stages\.fused\.inputs\.1: 'first' does not run in de .*\(s\.yaml:6\)"),
    (("  first: {kind: retrieve, component: overlap}", ("  first: {kind: retrieve, component: overlap}\n"
      "  idf: {kind: train, component: idf, per_language: true, languages: [de]}\n"
      "  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: 'stage:idf'}}")),
     r"stages\.re\.params\.model: 'idf' does not run in en"),
])
def test_validate_refuses_what_the_run_would_die_on(edit: tuple[str, str], expected: str, registry: Registry) -> None:
    text = BASE.replace(*edit)
    with pytest.raises(InputError, match=expected):
        parse_spec(text, registry, source="s.yaml")
    parse_spec(BASE, registry, source="s.yaml")


def test_bm25_k_must_fit_a_java_int() -> None:
    bm25 = pytest.importorskip("rankfw_bm25.retriever")
    assert bm25.BM25Config(k=2**31 - 1).k == 2**31 - 1
    with pytest.raises(ValueError, match="less than or equal to 2147483647"):
        bm25.BM25Config(k=2**31)


def test_eval_refuses_a_measure_it_cannot_compute_and_a_grade_beyond_int64(tmp_path: Path) -> None:
    run = tmp_path / "r.run"
    run.write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\n")
    qrels = tmp_path / "q.txt"
    qrels.write_text("q1 0 d1 1\n")
    bad = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "alpha_nDCG@10"])
    assert bad.exit_code == 2 and "alpha_nDCG@10' cannot be computed" in bad.stderr, bad.output
    qrels.write_text(f"q1 0 d1 1\nq1 0 d2 {2**63}\n")
    huge = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "nDCG@10"])
    assert huge.exit_code == 2 and f"{qrels}:2: relevance {2**63} does not fit in a 64-bit integer" in huge.stderr, huge.output
