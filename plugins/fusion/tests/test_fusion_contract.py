"""Every fuser and the fusion-weights trainer pass the conformance suites of rankfw.testing.contracts."""

from __future__ import annotations

from typing import Any

import pytest
from rankfw_fusion import FUSERS
from rankfw_fusion.tune import FusionWeightsTrainer

from rankfw.testing.contracts import FuserContract, TrainerContract


@pytest.mark.parametrize("name", sorted(FUSERS))
class TestFuser(FuserContract):
    @pytest.fixture
    def make(self, name: str) -> Any:
        cls = FUSERS[name]
        extra = {"weights": [0.7, 0.3]} if name == "weighted" else {}
        return lambda k=None: cls(cls.Config(**extra, **({"k": k} if k else {})))


class TestFusionWeights(TrainerContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: FusionWeightsTrainer(FusionWeightsTrainer.Config(step=0.25))
