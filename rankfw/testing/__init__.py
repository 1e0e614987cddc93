"""Helpers for tests and benchmarks of rankfw and its plugins (part of the plugin API).

- :func:`xquad_data`: the XQuAD-R collections; :func:`make_context`: a silent StageContext;
- :mod:`rankfw.testing.tiny_models`: tiny BERT models built in seconds, no download;
- :mod:`rankfw.testing.contracts`: the conformance suites ``RetrieverContract``,
  ``RerankerContract``, ``FuserContract``, ``TrainerContract`` (pytest base classes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankfw.core.components import StageContext

__all__ = ["REPO", "make_context", "xquad_data"]

REPO = Path(__file__).resolve().parents[2]


def xquad_data() -> Path:
    """The XQuAD-R collections: the project's shared copy beside the repository when there is one
    (``../shared/data/xquad``), else the copy shipped in the repository (``data/xquad``)."""
    shared = REPO.parent / "shared" / "data" / "xquad"
    return shared if shared.is_dir() else REPO / "data" / "xquad"


def make_context(folder: Path | None = None, language: str | None = "en", stage: str = "test") -> StageContext:
    """A silent :class:`rankfw.core.StageContext` whose work and cache folders are under ``folder``
    (a new temporary folder when not given), as the pipeline gives a component."""
    from rankfw.core.components import StageContext

    root = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="rankfw-test-"))
    (root / "work").mkdir(parents=True, exist_ok=True)
    (root / "cache").mkdir(parents=True, exist_ok=True)
    return StageContext(stage=stage, language=language, work_dir=root / "work", cache_dir=root / "cache")
