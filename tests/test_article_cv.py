"""``benchmarks/article_cv.py``'s bad input: one line naming what is wrong, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "article_cv.py"


def article_cv(*args: str) -> subprocess.CompletedProcess[str]:
    """The script in its own process, as a user runs it."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=120)


def test_a_missing_fold_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    done = article_cv(f"0={tmp_path / 'nowhere'}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and "not found" in lines[0]


def test_a_fold_without_a_name_is_refused(tmp_path: Path) -> None:
    done = article_cv(str(tmp_path))
    assert done.returncode == 2 and "a fold is NAME=FOLDER" in done.stderr and "Traceback" not in done.stderr


def test_must_beat_keeps_a_stage_that_loses_somewhere_on_the_tuning_folds_at_weight_0() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("article_cv", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grid = [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    # stage 1 is far better in en and a little worse in de on fold "a"; fold "b" is the scored one
    a = {"en": {(1.0, 0.0): {"q": 0.2}, (0.5, 0.5): {"q": 0.6}, (0.0, 1.0): {"q": 0.9}},
         "de": {(1.0, 0.0): {"q": 0.5}, (0.5, 0.5): {"q": 0.5}, (0.0, 1.0): {"q": 0.45}}}
    tables = {"a": a, "b": a}
    assert module.tuned_weights(tables, ["a"], grid) == (0.0, 1.0)
    assert module.tuned_weights(tables, ["a"], grid, must_beat=0) == (1.0, 0.0)
    assert module.tuned_weights(tables, ["a"], grid, must_beat=1) == (0.0, 1.0)  # stage 0 loses in en
