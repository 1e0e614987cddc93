"""docs/python.md: its Python examples run, in order, as a user would run them (from a checkout)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "python.md"


def python_blocks() -> list[str]:
    """The ```python blocks of docs/python.md, in order."""
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


def test_the_examples_are_valid_python() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 6
    for block in blocks:
        ast.parse(block)


@pytest.mark.slow
def test_the_examples_run(tmp_path: Path) -> None:
    """Every block in one process (they share names), from a folder laid out like the repository
    (examples/ and data/ linked), so outputs land in the temporary folder."""
    for name in ("examples", "data"):
        (tmp_path / name).symlink_to(REPO / name)
    script = tmp_path / "doc.py"
    script.write_text("\n".join(python_blocks()), encoding="utf-8")
    env = {**os.environ, "RANKFW_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "queries where e5 beats BM25" in done.stdout
    assert (tmp_path / "runs" / "docs-quickstart" / "stages" / "rrf" / "de.run").is_file()
    assert "shorter passages first, nDCG@10: 0." in done.stdout  # a reranker defined in the document
    assert (tmp_path / "runs" / "docs-notebook" / "stages" / "short" / "de.run").is_file()
