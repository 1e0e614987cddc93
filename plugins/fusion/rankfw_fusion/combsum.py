"""CombSUM: the sum of a document's normalised scores (Fox & Shaw, TREC-2 1993)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw_fusion.base import FusionConfig, ScoreFuser

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock

FOX_SHAW = (
    "Edward A. Fox and Joseph A. Shaw. Combination of Multiple Searches. TREC-2, NIST SP 500-215, 1993."
)


class CombSumFuser(ScoreFuser[FusionConfig]):
    """Sum of the normalised scores; a missing document adds ``fill`` (default 0, as ranx)."""

    description = "CombSUM: sum of each document's normalised scores over the input runs"
    citation = FOX_SHAW

    def combine(self, block: FusionBlock) -> np.ndarray:
        """Column sums of the filled score matrix."""
        return block.filled(self.fill).sum(axis=0)
