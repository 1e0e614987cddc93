"""Fixtures for the bi-encoder plugin's tests: tiny models built here, a shared corpus cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from rankfw_biencoder_distill.testing import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained sentence-transformers model folder."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-biencoder"))


@pytest.fixture(scope="session")
def xquad_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by the session's corpora."""
    return tmp_path_factory.mktemp("xquad-cache")
