"""Kill fuzzing: SIGKILL at every write point of a small spec (before each ``os.replace``, the
commit point of every atomic write and of every replaced folder), interleaved with a change of
parameters, then run to the end: every final output equals an uninterrupted run's, byte for byte.

The kills happen in forked children of one driver process (fork is cheap and the driver holds no
threads), so all ~50 write points x 4 runs take seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 3}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 3}}
  fused: {kind: fuse, component: sum, inputs: [first, re], params: {k: 3}}
"""
CHANGED = ["stages.first.params.k=2", "stages.idf.params.smoothing=3.0", "stages.fused.params.k=2"]


def _child(spec: str, cache: str, overrides: list[str], kill_at: int | None, count_to: str | None) -> None:
    """Run the spec in this (forked) process; SIGKILL itself just before write number ``kill_at``."""
    import rankfw_testplugin

    from rankfw.core.registry import load_registry
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    real_replace, writes = os.replace, [0]

    def replace(src: Any, dst: Any) -> None:
        writes[0] += 1
        if writes[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace  # type: ignore[assignment]
    os.fsync = lambda fd: None  # a killed process loses nothing that fsync would keep (the page cache stays)
    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin)], use_entry_points=False)
    Runner(load_spec(spec, registry, overrides), cache_dir=Path(cache)).run()
    if count_to:
        Path(count_to).write_text(str(writes[0]))


def _fork(*args: Any) -> int:
    """Run :func:`_child` in a fork; its exit status (-9 when it killed itself)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _child(*args)
        except BaseException:  # noqa: BLE001 - the child reports whatever ended it, then exits
            traceback.print_exc()
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _outputs(out: Path) -> dict[str, bytes]:
    """The outputs a user reads (hidden temporaries left by a kill are not outputs)."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        hidden = any(part.startswith(".") for part in rel.parts)
        if path.is_file() and not hidden and (path.suffix == ".run" or path.name in ("metrics.json", "idf.json")):
            files[str(rel)] = path.read_bytes()
    return files


def _warm_up() -> None:
    """Import (and initialise) in the driver what every child needs, so that a fork starts warm."""
    import rankfw_testplugin  # noqa: F401

    import rankfw.run.runner
    import rankfw.spec  # noqa: F401
    from rankfw.core import Run
    from rankfw.run.evaluate import evaluate

    evaluate(Run.from_scores({"q": {"d": 1.0}}), {"q": {"d": 1}}, ["nDCG@10", "R@100"])


def drive(spec_a: str, spec_b: str, work: str) -> dict[str, Any]:
    """Reference runs of A and B, then for every write point N of a run: A done; B killed at N;
    A killed at N; A to the end (== reference A); B to the end (== reference B)."""
    root = Path(work)
    _warm_up()
    refs = {}
    for name, spec in (("a", spec_a), ("b", spec_b)):
        counted = root / f"writes-{name}"
        assert _fork(spec, str(root / f"cache-{name}"), [], None, str(counted)) == 0
        refs[name] = _outputs(Path(json.loads(Path(spec).with_suffix(".json").read_text())["out"]))
    total = int((root / "writes-a").read_text())
    out = Path(json.loads(Path(spec_a).with_suffix(".json").read_text())["out"])
    failures: list[str] = []
    kills = 0
    for n in range(1, total + 2):
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(root / "cache", ignore_errors=True)
        steps = [("A done", spec_a, None), ("B killed", spec_b, n), ("A killed", spec_a, n),
                 ("A finished", spec_a, None), ("B finished", spec_b, None)]
        for label, spec, kill_at in steps:
            status = _fork(spec, str(root / "cache"), [], kill_at, None)
            kills += status == -signal.SIGKILL
            if status not in (0, -signal.SIGKILL) or (kill_at is None and status != 0):
                failures.append(f"write {n}: {label} exited {status}")
                break
            if label.endswith("finished"):
                want = refs["a" if label.startswith("A") else "b"]
                got = _outputs(out)
                if got != want:
                    diff = sorted(k for k in {*got, *want} if got.get(k) != want.get(k))
                    failures.append(f"write {n}: after {label}: {diff} differ from an uninterrupted run")
    return {"writes": total, "kills": kills, "failures": failures}


def test_sigkill_at_every_write_point_with_changing_params(tmp_path: Path, tiny: Path, write_spec) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    spec_a = write_spec(tmp_path / "a.yaml", tiny, out, STAGES)
    spec_b = tmp_path / "b.yaml"  # the same spec with other params, into the same output folder
    text = spec_a.read_text()
    for change in CHANGED:
        key, value = change.split("=")
        stage, _, param = key.split(".")[1:]
        old = {"k": "k: 3", "smoothing": "component: idf"}[param]
        new = f"k: {value}" if param == "k" else f"component: idf, params: {{smoothing: {value}}}"
        line = next(line for line in text.splitlines() if line.startswith(f"  {stage}:"))
        text = text.replace(line, line.replace(old, new))
    spec_b.write_text(text)
    assert spec_b.read_text() != spec_a.read_text()
    for spec in (spec_a, spec_b):
        spec.with_suffix(".json").write_text(json.dumps({"out": str(out)}))
    here = Path(__file__).resolve().parent
    code = (f"import sys, json; sys.path.insert(0, {str(here)!r}); import test_reliability_fuzz as t; "
            f"print(json.dumps(t.drive({str(spec_a)!r}, {str(spec_b)!r}, {str(tmp_path)!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["writes"] >= 20 and result["kills"] >= result["writes"], result
    assert not result["failures"], "\n".join(result["failures"][:20])
