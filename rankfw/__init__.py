"""rankfw: a plugin-based framework for multilingual passage ranking.

``rankfw.Pipeline`` (run a spec from Python), ``rankfw.Result`` and ``rankfw.Searcher`` (one query
in, ranked passages out) load on first use (PEP 562), so ``import rankfw`` stays light: no torch,
no JVM, no pandas until used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from rankfw._lazy import lazy_exports

try:
    __version__ = version("rankfw")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_EXPORTS = {
    "Pipeline": "rankfw.api.pipeline",
    "Result": "rankfw.api.result",
    "Searcher": "rankfw.search.searcher",
    "Hit": "rankfw.search.searcher",
}


__getattr__, __dir__ = lazy_exports("rankfw", _EXPORTS, globals())


if TYPE_CHECKING:
    from rankfw.api.pipeline import Pipeline
    from rankfw.api.result import Result
    from rankfw.search.searcher import Hit, Searcher
