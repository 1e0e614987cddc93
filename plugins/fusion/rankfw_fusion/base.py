"""The shared shape of every fusion method: its Config and the per-query fusion loop.

A method module subclasses :class:`ScoreFuser` and implements :meth:`ScoreFuser.combine`, which
turns one query's :class:`~rankfw_fusion.matrix.QueryMatrix` into one fused score per candidate.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from rankfw.core import ComponentConfig, Fuser, InputError, Run, StageContext

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.matrix import QueryMatrix

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
        if value is not None and value != value:  # NaN
            raise ValueError("fill must be a number")
        return value


class ScoreFuser(Fuser):
    """A fusion method that scores each query's candidates from the normalised input runs."""

    Config = FusionConfig
    missing_default: float = 0.0
    """The contribution of a missing document when ``fill`` is unset."""

    @property
    def fill(self) -> float:
        """The value used for a document missing from an input run."""
        fill = self.config.fill  # type: ignore[attr-defined]
        return self.missing_default if fill is None else fill

    def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
        """Fuse ``runs`` query by query: normalise each run, combine, rank, cut at ``k``."""
        from rankfw_fusion.matrix import query_ids, query_matrix, ranked_hits

        runs = self.select_runs(runs, ctx)
        config = self.config
        depth, k, norm = config.depth, config.k, config.norm  # type: ignore[attr-defined]
        empty: list[tuple[str, float]] = []
        hits = {}
        qids = query_ids(runs)
        with ctx.progress(f"{ctx.stage}: {type(self).__name__}", len(qids)) as bar:
            for qid in qids:
                lists = [run.get(qid, empty)[:depth] for run in runs]
                matrix = query_matrix(lists, norm)
                hits[qid] = ranked_hits(matrix.docids, self.combine(matrix), k)
                bar.advance(1)
        return Run(hits)

    def select_runs(self, runs: Sequence[Run], ctx: StageContext) -> Sequence[Run]:
        """The runs this method fuses (all of them; a weighted method drops zero weights)."""
        if not runs:
            raise InputError("a fusion stage needs at least one input run", f"stages.{ctx.stage}.inputs")
        return runs

    @abstractmethod
    def combine(self, matrix: QueryMatrix) -> np.ndarray:
        """One fused score per candidate of ``matrix``."""
