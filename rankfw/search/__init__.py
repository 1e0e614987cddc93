"""One-query search over a pipeline's stages: :class:`Searcher` and its :class:`Hit` (loaded on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw._lazy import lazy_exports

_EXPORTS = {"Searcher": "rankfw.search.searcher", "Hit": "rankfw.search.searcher", "Engine": "rankfw.search.engine"}
__all__ = ["Engine", "Hit", "Searcher"]


__getattr__, __dir__ = lazy_exports("rankfw.search", _EXPORTS, globals())


if TYPE_CHECKING:
    from rankfw.search.engine import Engine
    from rankfw.search.searcher import Hit, Searcher
