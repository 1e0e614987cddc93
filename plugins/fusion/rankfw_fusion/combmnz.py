"""CombMNZ: CombSUM times the number of runs that retrieved the document (Fox & Shaw, 1993)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw_fusion.base import FusionConfig, ScoreFuser
from rankfw_fusion.combsum import FOX_SHAW

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock


class CombMnzFuser(ScoreFuser[FusionConfig]):
    """Sum of the normalised scores times the number of runs holding the document.

    A missing document adds ``fill`` to the sum (default 0, as ranx) and never counts.
    """

    description = "CombMNZ: CombSUM times the number of input runs that retrieved the document"
    citation = FOX_SHAW

    def combine(self, block: FusionBlock) -> np.ndarray:
        """Column sums of the filled score matrix times the column counts of present hits."""
        return block.filled(self.fill).sum(axis=0) * block.present.sum(axis=0)
