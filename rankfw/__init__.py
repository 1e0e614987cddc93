"""rankfw: a plugin-based framework for multilingual passage ranking.

``rankfw.Pipeline`` (run a spec from Python), ``rankfw.Result`` and ``rankfw.Searcher`` (one query
in, ranked passages out) load on first use (PEP 562), so ``import rankfw`` stays light: no torch,
no JVM, no pandas until used.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rankfw' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from rankfw.api.pipeline import Pipeline
    from rankfw.api.result import Result
    from rankfw.search.searcher import Hit, Searcher
