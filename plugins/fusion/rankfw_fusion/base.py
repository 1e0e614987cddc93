"""The shared shape of every fusion method: its Config and the per-query fusion loop.

A method module subclasses :class:`ScoreFuser` and implements :meth:`ScoreFuser.combine`, which
turns a :class:`~rankfw_fusion.block.FusionBlock` (every query's candidates and their normalised
scores in each input run) into one fused score per candidate.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from pydantic import Field, field_validator

from rankfw.core import ComponentConfig, Fuser, InputError, Run, StageContext

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock

NormName = Literal["none", "min-max", "max", "sum", "z-score", "rank", "borda"]


class FusionConfig(ComponentConfig):
    """Parameters shared by every fusion method."""

    norm: NormName = Field("min-max", description="score normalisation applied to each input run per query")
    depth: int | None = Field(None, gt=0, description="hits of each input run used (None: all)")
    k: int | None = Field(None, gt=0, description="hits kept in the fused run (None: all)")
    fill: float | None = Field(
        None,
        description="contribution of a document missing from an input run, after normalisation "
        "(None: the method's default, as ranx)",
    )

    @field_validator("fill")
    @classmethod
    def _finite_fill(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):  # an infinite score cannot be written as TREC
            raise ValueError("fill must be a finite number")
        return value


FC = TypeVar("FC", bound=FusionConfig)


class ScoreFuser(Fuser[FC]):
    """A fusion method that scores each query's candidates from the normalised input runs."""

    Config: ClassVar[type[ComponentConfig]] = FusionConfig
    missing_default: float = 0.0
    """The contribution of a missing document when ``fill`` is unset."""
    uses_scores: bool = True
    """Whether :meth:`combine` reads ``block.scores``; a rank-based method (False) reads ``block.ranks``."""

    @property
    def fill(self) -> float:
        """The value used for a document missing from an input run."""
        fill = self.config.fill
        return self.missing_default if fill is None else fill

    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        """Fuse ``runs``: normalise each run per query, combine, rank, cut at ``k``."""
        from rankfw_fusion.block import fusion_block, ranked_run

        runs = self.select_runs(runs, ctx)
        config = self.config
        with ctx.progress(f"{ctx.stage}: {type(self).__name__}", 3) as bar:
            block = fusion_block(runs, config.norm, config.depth, self.uses_scores, self.fill)
            bar.advance(1)
            fused = self.combine(block)
            bar.advance(1)
            run = ranked_run(block, fused, config.k)
            bar.advance(1)
        return run

    def select_runs(self, runs: Sequence[Run], ctx: StageContext) -> Sequence[Run]:
        """The runs this method fuses (all of them; a weighted method drops zero weights)."""
        if not runs:
            raise InputError("a fusion stage needs at least one input run", f"stages.{ctx.stage}.inputs")
        return runs

    @abstractmethod
    def combine(self, block: FusionBlock) -> np.ndarray:
        """One fused score per candidate of ``block``."""
