"""The crossencoder reranker and both trainers pass the conformance suites of rankfw.testing.contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker
from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer, TranslateTrainTrainer

from rankfw.testing.contracts import RerankerContract, TrainerContract
from rankfw.testing.tiny_models import tiny_cross_encoder

TRAIN = {"epochs": 1, "batch_size": 8, "max_length": 32, "device": "cpu", "max_examples": 12}


@pytest.fixture(scope="module")
def tiny_ce(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cross_encoder(tmp_path_factory.mktemp("contract-ce"), bert=tiny_encoder)


class TestCrossEncoder(RerankerContract):
    @pytest.fixture
    def make(self, tiny_ce: Path) -> Any:
        return lambda k=None: CrossEncoderReranker(
            CrossEncoderReranker.Config(model=str(tiny_ce), device="cpu", max_length=48, depth=10, k=k))


class TestFinetuneCrossEncoder(TrainerContract):
    @pytest.fixture
    def make(self, tiny_encoder: Path) -> Any:
        return lambda k=None: FinetuneCrossEncoderTrainer(
            FinetuneCrossEncoderTrainer.Config(model=str(tiny_encoder), negatives="both", **TRAIN))


class TestTranslateTrain(TrainerContract):
    @pytest.fixture
    def make(self, tiny_encoder: Path) -> Any:  # English only: nothing to translate, the originals train
        return lambda k=None: TranslateTrainTrainer(TranslateTrainTrainer.Config(model=str(tiny_encoder), **TRAIN))
