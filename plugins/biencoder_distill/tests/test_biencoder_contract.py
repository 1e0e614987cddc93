"""The biencoder reranker, the dense retriever and the fine-tuning trainer pass the conformance
suites of rankfw.testing.contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rankfw_biencoder_distill.finetune import FinetuneTrainer
from rankfw_biencoder_distill.reranker import BiEncoderReranker
from rankfw_biencoder_distill.retriever import DenseRetriever

from rankfw.testing.contracts import RerankerContract, RetrieverContract, TrainerContract


class TestBiEncoder(RerankerContract):
    @pytest.fixture
    def make(self, tiny_model: Path) -> Any:
        return lambda k=None: BiEncoderReranker(BiEncoderReranker.Config(model=str(tiny_model), device="cpu", max_length=64, k=k))


class TestDense(RetrieverContract):
    @pytest.fixture
    def make(self, tiny_model: Path) -> Any:
        return lambda k=None: DenseRetriever(
            DenseRetriever.Config(model=str(tiny_model), device="cpu", max_length=64, **({"k": k} if k else {})))


class TestFinetuneBiEncoder(TrainerContract):
    @pytest.fixture
    def make(self, tiny_model: Path) -> Any:
        return lambda k=None: FinetuneTrainer(
            FinetuneTrainer.Config(model=str(tiny_model), device="cpu", max_length=32, batch_size=8, max_examples=12))
