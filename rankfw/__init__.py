"""rankfw: a plugin-based framework for multilingual passage ranking."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rankfw")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
