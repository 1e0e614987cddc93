"""A third-party plugin (examples/plugins/rankfw-overlap) installed into a fresh virtualenv is listed
by ``rankfw plugins list`` and runs in a spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "plugins" / "rankfw-overlap"


def _venv(path: Path) -> Path:
    """A new virtualenv that borrows this environment's third-party libraries through a .pth file."""
    venv.EnvBuilder(with_pip=False).create(path)
    python = path / "bin" / "python"
    purelib = subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()
    Path(purelib, "_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _rankfw(python: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "rankfw", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_example_plugin_installs_lists_and_runs(tmp_path: Path, xquad: Path, write_spec,  # type: ignore[no-untyped-def]
                                                testplugin_env: dict[str, str]) -> None:
    python = _venv(tmp_path / "venv")
    env = {"PYTHONNOUSERSITE": "1"}
    install = [python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run([*install, str(REPO)], check=True, env={**os.environ, **env}, timeout=300)
    before = json.loads(_rankfw(python, "plugins", "list", "--json").stdout)
    assert not any(c["name"] == "query-overlap" for c in before["components"])

    subprocess.run([*install, str(EXAMPLE)], check=True, timeout=300)
    after = json.loads(_rankfw(python, "plugins", "list", "--json").stdout)
    mine = [c for c in after["components"] if c["name"] == "query-overlap"]
    assert mine == [{
        "kind": "reranker", "name": "query-overlap",
        "description": "Query-term overlap re-ranker, IDF over each query's candidates", "citation": "",
        "plugin": "overlap_reranker", "distribution": "rankfw-overlap", "version": "1.0.0",
    }]
    location = subprocess.check_output([python, "-c", "import rankfw_overlap; print(rankfw_overlap.__file__)"], text=True)
    assert location.startswith(str(tmp_path / "venv"))  # really installed into the new environment

    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 30}}
  overlap: {kind: rerank, component: query-overlap, inputs: [first], params: {k: 10}}
""", languages="[en]")
    # the new plugin from its entry point, the test plugin (not installed) from RANKFW_EXTRA_PLUGINS
    only = {**testplugin_env, "RANKFW_LOAD_PLUGINS": "rankfw-overlap", "RANKFW_CACHE": str(tmp_path / "cache")}
    result = _rankfw(python, "run", str(spec), env=only)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())["stages"]
    # IDF-weighted overlap re-ranks raw overlap counts for the better
    assert metrics["overlap"]["mean"]["nDCG@10"] > metrics["first"]["mean"]["nDCG@10"]
    assert sys.executable != str(python)
