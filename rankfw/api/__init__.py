"""The Python API: :class:`Pipeline` (a spec run from Python) and its :class:`Result`.

Names load on first use (PEP 562): ``import rankfw.api`` imports neither pandas nor any model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {"Pipeline": "rankfw.api.pipeline", "Result": "rankfw.api.result"}
__all__ = ["Pipeline", "Result"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rankfw.api' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from rankfw.api.pipeline import Pipeline
    from rankfw.api.result import Result
