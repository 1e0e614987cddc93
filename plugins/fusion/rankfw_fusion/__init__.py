"""rankfw-fusion: rank fusion (RRF, CombSUM, CombMNZ, CombMAX, weighted), a weight tuner, and the
group-context re-ranker (a passage's score fused with its paragraph's).

Light at import: numpy and ir_measures are imported only when a component runs.
"""

from __future__ import annotations

from collections.abc import Callable

from rankfw.core import Fuser, Reranker, Trainer, hookimpl
from rankfw_fusion.combmax import CombMaxFuser
from rankfw_fusion.combmnz import CombMnzFuser
from rankfw_fusion.combsum import CombSumFuser
from rankfw_fusion.context import GroupContextReranker
from rankfw_fusion.rrf import RRFFuser
from rankfw_fusion.tune import FusionWeightsTrainer
from rankfw_fusion.weighted import WeightedFuser

__version__ = "0.1.0"

FUSERS: dict[str, type[Fuser]] = {
    "rrf": RRFFuser,
    "combsum": CombSumFuser,
    "combmnz": CombMnzFuser,
    "combmax": CombMaxFuser,
    "weighted": WeightedFuser,
}
"""Component name -> fuser class."""


@hookimpl
def register_fusers(register: Callable[[str, type[Fuser]], None]) -> None:
    """Register the fusion methods."""
    for name, cls in FUSERS.items():
        register(name, cls)


@hookimpl
def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
    """Register the weight tuner."""
    register("fusion-weights", FusionWeightsTrainer)


@hookimpl
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    """Register the group-context re-ranker."""
    register("group-context", GroupContextReranker)
