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
