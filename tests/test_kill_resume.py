"""SIGKILL in the middle of each kind of stage, run again: the run resumes from what was finished
and the outputs are byte-identical to an uninterrupted run; no partial file is ever left where a
finished one is expected. Runs the real CLI in a subprocess (the test plugin through
RANKFW_EXTRA_PLUGINS: see the ``testplugin_env`` fixture)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 30, seconds_per_query: 0.003}}
  idf: {kind: train, component: idf, params: {seconds: 1.5}}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20, seconds_per_query: 0.004}}
  fused: {kind: fuse, component: sum, inputs: [first, re], params: {seconds: 1.0}}
"""
LANGUAGES = "[en, de, es]"


def _cli(spec: Path, cache: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**env, "RANKFW_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "rankfw", "run", str(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _spec(path: Path, data: Path, out: Path) -> Path:
    path.write_text(f"""name: kill
output: {out}
dataset:
  root: {data}
  languages: {LANGUAGES}
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
  train: "{{root}}/{{lang}}/train.jsonl.gz"
stages:
{STAGES}""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, testplugin_env: dict[str, str]) -> tuple[Path, Path]:
    repo = Path(__file__).resolve().parents[1]
    shared = repo.parent / "shared" / "data" / "xquad"
    data = shared if shared.is_dir() else repo / "data" / "xquad"
    root = tmp_path_factory.mktemp("clean")
    spec = _spec(root / "spec.yaml", data, root / "out")
    proc = _cli(spec, root / "cache", testplugin_env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return root / "out", data


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {path} appeared: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        if time.time() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("stage", "started", "unfinished"),
    [
        ("retrieve", "first/done/en.key", "first/es.run"),
        ("train", "idf/work", "idf/model"),
        ("rerank", "re/done/en.key", "re/es.run"),
        ("fuse", "fused/work", "fused/es.run"),
    ],
)
def test_kill_mid_stage_then_resume(stage: str, started: str, unfinished: str, tmp_path: Path,
                                    uninterrupted: tuple[Path, Path], testplugin_env: dict[str, str]) -> None:
    clean, data = uninterrupted
    spec = _spec(tmp_path / "spec.yaml", data, tmp_path / "out")
    stages = tmp_path / "out" / "stages"
    proc = _cli(spec, tmp_path / "cache", testplugin_env)
    _wait_for(stages / started, proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (stages / unfinished).exists(), "the kill came too late to test anything"
    for path in (tmp_path / "out").rglob("*"):  # a partial file is only ever a hidden temporary
        assert not path.name.endswith(".tmp") or path.name.startswith("."), path
    assert not (stages / "idf" / "model" / "partial.bin").exists()
    if stage == "train":  # the killed trainer's scratch folder is still there ...
        assert list((stages / "idf").glob(".model.*.tmp")), "no scratch folder left by the kill"
    resumed = _cli(spec, tmp_path / "cache", testplugin_env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    log = err.decode()
    if stage != "retrieve":
        assert "stage first (retrieve overlap): cached" in log
    leftovers = [p for p in (tmp_path / "out").rglob(".*") if p.name.endswith((".tmp", ".old"))]
    assert leftovers == [], "... and the resumed run removed every temporary of the killed one"
    for path in clean.rglob("*"):
        if path.is_file() and path.suffix in (".run", ".json") and path.name != "manifest.json":
            copy = tmp_path / "out" / path.relative_to(clean)
            assert copy.read_bytes() == path.read_bytes(), path.relative_to(clean)
