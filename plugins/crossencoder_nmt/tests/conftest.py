"""Fixtures of the crossencoder_nmt tests: tiny models built from the shipped XQuAD-R data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rankfw.testing import xquad_data

XQUAD = xquad_data()


@pytest.fixture(scope="session")
def xquad() -> Path:
    """The shipped XQuAD-R collections (``<repo>/../shared/data/xquad``)."""
    if not XQUAD.is_dir():
        pytest.skip(f"shared data not found at {XQUAD}")
    return XQUAD


@pytest.fixture(scope="session")
def tiny_encoder(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (random weights) with a WordPiece vocabulary trained on the English data."""
    from rankfw.testing.tiny_models import tiny_bert, xquad_texts

    folder = tmp_path_factory.mktemp("tiny-encoder")
    return tiny_bert(folder, xquad_texts(["en"], xquad, queries="train"), seed=0, min_frequency=1, max_positions=160)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread per test: tiny models gain nothing from more, and the CI machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
