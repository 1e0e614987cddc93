"""CombMAX: a document's best normalised score over the input runs (Fox & Shaw, 1993)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw_fusion.base import FusionConfig, ScoreFuser
from rankfw_fusion.combsum import FOX_SHAW

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock


class CombMaxFuser(ScoreFuser[FusionConfig]):
    """Maximum of the normalised scores; a missing document counts as ``fill`` (default -1e9, as ranx)."""

    description = "CombMAX: maximum of each document's normalised scores over the input runs"
    citation = FOX_SHAW
    missing_default = -1e9

    def combine(self, block: FusionBlock) -> np.ndarray:
        """Column maxima of the filled score matrix."""
        return block.filled(self.fill).max(axis=0)
