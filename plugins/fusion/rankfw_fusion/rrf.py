"""Reciprocal Rank Fusion (Cormack, Clarke & Buettcher, SIGIR 2009)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from rankfw_fusion.base import FusionConfig, NormName, ScoreFuser

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock


class RRFConfig(FusionConfig):
    """RRF's parameters: the rank constant ``rrf_k`` besides the shared ones."""

    rrf_k: float = Field(60.0, ge=0, description="the rank constant k of 1 / (k + rank)")
    norm: NormName = Field(
        "none",
        description="normalisation; RRF uses ranks only, so only 'borda' (which ranks every missing "
        "candidate just below the run's last hit) changes the result",
    )


class RRFFuser(ScoreFuser[RRFConfig]):
    """``sum over runs of 1 / (rrf_k + rank)``; a missing document adds ``fill`` (default 0, as ranx).

    Ranks are positions in each input list (1-based). The contributions of a document are summed
    in sorted order, so the fused scores do not depend on the order of the input runs.
    """

    Config = RRFConfig
    uses_scores = False
    description = "Reciprocal Rank Fusion: sum of 1 / (rrf_k + rank) over the input runs (rrf_k = 60)"
    citation = (
        "Gordon V. Cormack, Charles L. A. Clarke and Stefan Buettcher. Reciprocal rank fusion "
        "outperforms Condorcet and individual rank learning methods. SIGIR 2009, 758-759."
    )

    def combine(self, block: FusionBlock) -> np.ndarray:
        """Sum of the reciprocal ranks, added smallest first.

        A candidate's contribution from a run depends on its rank there only (rank 0: missing, the
        fill), so the contributions are a table over ranks: the ranks become small integer keys
        in the order of their contributions, sorted per candidate, and read back from the table.
        """
        import numpy as np

        ranks = block.ranks
        assert ranks is not None, "RRF reads a block built for ranks (uses_scores = False)"
        table = np.arange(int(ranks.max(initial=0)) + 1, dtype=np.float64)
        table += self.config.rrf_k
        with np.errstate(divide="ignore"):  # rrf_k = 0 and a missing document's rank 0
            np.divide(1.0, table, out=table)
        table[0] = self.fill
        by_value = np.argsort(table, kind="stable")
        key_of_rank = np.empty(len(table), dtype=np.int16 if len(table) <= 1 << 15 else np.int32)
        key_of_rank[by_value] = np.arange(len(table))
        keys = sort_rows(key_of_rank[ranks])  # the one (runs x candidates) array made here
        ascending = table[by_value]
        total = ascending[keys[0]]
        for row in keys[1:]:
            total += ascending[row]
        return total


def sort_rows(values: np.ndarray, network_max: int = 8) -> np.ndarray:
    """``np.sort(values, axis=0)`` for a few rows and many columns: an odd-even transposition
    network of row-wise minima and maxima (C loops over whole rows) instead of one tiny sort per
    column; ``np.sort`` beyond ``network_max`` rows. ``values`` must hold no NaN (it may be reused)."""
    import numpy as np

    n = len(values)
    if n > network_max:
        return np.sort(values, axis=0)
    rows = list(values)
    low, high = np.empty_like(values[0]), np.empty_like(values[0])
    for step in range(n):
        for i in range(step % 2, n - 1, 2):
            np.minimum(rows[i], rows[i + 1], out=low)
            np.maximum(rows[i], rows[i + 1], out=high)
            rows[i][...], rows[i + 1][...] = low, high
    return values
