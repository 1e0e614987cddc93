"""One-query search over a pipeline's stages: :class:`Searcher` and its :class:`Hit` (loaded on first use)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {"Searcher": "rankfw.search.searcher", "Hit": "rankfw.search.searcher", "Engine": "rankfw.search.engine"}
__all__ = ["Engine", "Hit", "Searcher"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rankfw.search' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from rankfw.search.engine import Engine
    from rankfw.search.searcher import Hit, Searcher
