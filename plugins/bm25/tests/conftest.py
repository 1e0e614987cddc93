"""Fixtures of the bm25 plugin's tests: the shared XQuAD data, one index cache per session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rankfw.core import StageContext

REPO = Path(__file__).resolve().parents[3]
SHARED_XQUAD = REPO.parent / "shared" / "data" / "xquad"
XQUAD = SHARED_XQUAD if SHARED_XQUAD.is_dir() else REPO / "data" / "xquad"


def reference_ndcg() -> dict[str, float]:
    """The raw-pyserini BM25 nDCG@10 per language, read from the data's README."""
    text = (XQUAD / "README.md").read_text(encoding="utf-8")
    tail = text[text.index("gives nDCG@10") :]
    return {lang: float(value) for lang, value in re.findall(r"\b([a-z]{2}) (0\.\d+)", tail)}


@pytest.fixture(scope="session")
def xquad_dir() -> Path:
    """The XQuAD-R collections (../shared/data/xquad, else the repo's copy)."""
    return XQUAD


@pytest.fixture(scope="session")
def bm25_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session, so each language is indexed once."""
    return tmp_path_factory.mktemp("bm25-cache")


@pytest.fixture
def make_ctx(bm25_cache: Path, tmp_path: Path):
    """Build a StageContext for a language, logging into a list."""

    def make(language: str | None, logs: list[str] | None = None) -> StageContext:
        sink = logs if logs is not None else []
        return StageContext("bm25", language, tmp_path, bm25_cache, log=sink.append)

    return make
