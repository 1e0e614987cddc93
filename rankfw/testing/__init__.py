"""Helpers for tests and benchmarks of rankfw and its plugins."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def xquad_data() -> Path:
    """The XQuAD-R collections: the project's shared copy beside the repository when there is one
    (``../shared/data/xquad``), else the copy shipped in the repository (``data/xquad``)."""
    shared = REPO.parent / "shared" / "data" / "xquad"
    return shared if shared.is_dir() else REPO / "data" / "xquad"
