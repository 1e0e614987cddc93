"""The conformance suites catch what they promise to: each check fails on a component that breaks it."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import rankfw_testplugin as tp

from rankfw.core import Run, StageContext
from rankfw.testing import make_context
from rankfw.testing.contracts import ContractData, FuserContract, RetrieverContract, xquad_contract_data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return xquad_contract_data(tmp_path_factory.mktemp("cache"))


class IgnoresK(tp.SumFuser):
    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        return Run.from_scores({q: dict(h) for q, h in runs[0].items()})


class Random(tp.SumFuser):
    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        return Run.from_scores({q: {d: random.random() for d, _ in h} for q, h in runs[0].items()}, k=self.config.k)


class DropsAQuery(tp.OverlapRetriever):
    def retrieve(self, topics: Any, corpus: Any, ctx: StageContext) -> Run:
        run = super().retrieve(topics, corpus, ctx)
        return Run({q: run[q] for q in list(run)[1:]})


class InventsADocid(tp.OverlapRetriever):
    def retrieve(self, topics: Any, corpus: Any, ctx: StageContext) -> Run:
        return Run.from_scores({q: {"no-such-doc": 1.0} for q in topics})


class Unpicklable(tp.SumFuser):
    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.hook = lambda: None


def _make(cls: type) -> Any:
    return lambda k=None: cls(cls.Config(**({"k": k} if k else {})))


def test_each_check_fails_on_a_component_that_breaks_it(data: ContractData, tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    fusers, retrievers = FuserContract(), RetrieverContract()
    fusers.test_respects_k(_make(tp.SumFuser), data, ctx)  # the honest ones pass
    retrievers.test_returns_a_run_over_every_qid_with_known_docids(_make(tp.OverlapRetriever), data, ctx)
    with pytest.raises(AssertionError):
        fusers.test_respects_k(_make(IgnoresK), data, ctx)
    with pytest.raises(AssertionError):
        fusers.test_is_deterministic(_make(Random), data, ctx)
    with pytest.raises(AssertionError):
        retrievers.test_returns_a_run_over_every_qid_with_known_docids(_make(DropsAQuery), data, ctx)
    with pytest.raises(AssertionError):
        retrievers.test_returns_a_run_over_every_qid_with_known_docids(_make(InventsADocid), data, ctx)
    with pytest.raises(Exception, match="pickle"):
        fusers.test_component_pickles_with_its_config(_make(Unpicklable))
