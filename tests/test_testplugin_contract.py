"""The test plugin's four components pass the conformance suites of rankfw.testing.contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rankfw_testplugin as tp

from rankfw.testing import make_context
from rankfw.testing.contracts import (
    ContractData,
    FuserContract,
    RerankerContract,
    RetrieverContract,
    TrainerContract,
)


class TestOverlapRetriever(RetrieverContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: tp.OverlapRetriever(tp.OverlapRetriever.Config(**({"k": k} if k else {})))


class TestIdfOverlapReranker(RerankerContract):
    @pytest.fixture(scope="class")
    def idf_model(self, data: ContractData, tmp_path_factory: pytest.TempPathFactory) -> Path:
        out = tmp_path_factory.mktemp("idf")
        tp.IdfTrainer().train(data.training, out, make_context(tmp_path_factory.mktemp("ctx"), None))
        return out

    @pytest.fixture
    def make(self, idf_model: Path) -> Any:
        return lambda k=None: tp.IdfOverlapReranker(tp.IdfOverlapReranker.Config(model=str(idf_model), **({"k": k} if k else {})))


class TestSumFuser(FuserContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: tp.SumFuser(tp.SumFuser.Config(**({"k": k} if k else {})))


class TestIdfTrainer(TrainerContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: tp.IdfTrainer()
