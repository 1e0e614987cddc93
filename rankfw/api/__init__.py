"""The Python API: :class:`Pipeline` (a spec run from Python) and its :class:`Result`.

Names load on first use (PEP 562): ``import rankfw.api`` imports neither pandas nor any model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw._lazy import lazy_exports

_EXPORTS = {"Pipeline": "rankfw.api.pipeline", "Result": "rankfw.api.result"}
__all__ = ["Pipeline", "Result"]


__getattr__, __dir__ = lazy_exports("rankfw.api", _EXPORTS, globals())


if TYPE_CHECKING:
    from rankfw.api.pipeline import Pipeline
    from rankfw.api.result import Result
