"""Weighted fusion: a linear interpolation of the normalised runs (ranx's ``wsum``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from rankfw.core import InputError, Run, StageContext
from rankfw_fusion.base import FusionConfig, ScoreFuser
from rankfw_fusion.weights_file import read_weights

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock


_SAID: set[tuple[str, str, str]] = set()
"""(stage, weights folder, message) already logged in this process."""


class WeightedConfig(FusionConfig):
    """The weights (one per input run, >= 0) or ``stage:NAME`` of a ``fusion-weights`` stage."""

    weights: list[float] | str = Field(
        description="one weight per input run (0 drops the run), or 'stage:NAME' / a folder "
        "holding the weights.json of a fusion-weights stage",
    )

    @field_validator("weights")
    @classmethod
    def _valid_weights(cls, value: list[float] | str) -> list[float] | str:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("weights must be a list of numbers or 'stage:NAME'")
            return value
        if not value:
            raise ValueError("weights must not be empty")
        if any(not (w >= 0 and w < float("inf")) for w in value):
            raise ValueError("weights must be finite and >= 0")
        if not any(value):
            raise ValueError("at least one weight must be > 0")
        return value


class WeightedFuser(ScoreFuser[WeightedConfig]):
    """``sum over runs of weight * normalised score``; a missing document adds ``fill`` (default 0).

    A run whose weight is 0 is dropped before fusing: its documents do not become candidates
    (ranx's ``wsum`` would still list them, with the other runs' scores).
    """

    Config = WeightedConfig
    description = "Weighted sum of normalised scores (linear interpolation), weights given or tuned"
    citation = ""

    def select_runs(self, runs: Sequence[Run], ctx: StageContext) -> Sequence[Run]:
        """The runs with a non-zero weight (and remember those weights for :meth:`combine`)."""
        runs = super().select_runs(runs, ctx)
        weights = self.resolve_weights(ctx)
        if len(weights) != len(runs):
            raise InputError(
                f"{len(weights)} weights for {len(runs)} input runs",
                f"stages.{ctx.stage}.params.weights",
            )
        import numpy as np

        kept = [i for i, w in enumerate(weights) if w > 0]
        self._active = np.array([weights[i] for i in kept], dtype=np.float64)
        return [runs[i] for i in kept]

    def resolve_weights(self, ctx: StageContext) -> list[float]:
        """The weights list: given in the config, or read from a fusion-weights stage's output."""
        weights = self.config.weights
        where = f"stages.{ctx.stage}.params.weights"
        if not isinstance(weights, str):
            return list(weights)
        if weights.startswith("stage:"):
            raise InputError(f"{weights!r} was not resolved to a trained stage's folder", where)
        tuned = read_weights(weights, where)
        norm, depth = self.config.norm, self.config.depth
        if (tuned.norm, tuned.depth) != (norm, depth):
            ctx.log(
                f"{ctx.stage}: weights were tuned with norm={tuned.norm}, depth={tuned.depth} "
                f"but this stage uses norm={norm}, depth={depth}"
            )
        chosen = tuned.for_language(ctx.language)
        score = tuned.score_for(ctx.language)
        said = f"weights {chosen} for runs {tuned.runs} (tuned {tuned.measure} {score:.4f})"
        if ctx.language in tuned.per_language:
            ctx.log(f"{ctx.stage} [{ctx.language}]: {said}")
        elif (ctx.stage, weights, said) not in _SAID:  # weights every language shares: said once, not per language
            ctx.log(f"{ctx.stage}: {said}")
            _SAID.add((ctx.stage, weights, said))
        return chosen

    def combine(self, block: FusionBlock) -> np.ndarray:
        """The weighted column sums of the filled score matrix."""
        return self._active @ block.filled(self.fill)
