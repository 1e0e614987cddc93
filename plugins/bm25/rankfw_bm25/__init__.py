"""rankfw-bm25: Lucene BM25 through pyserini, as the rankfw retriever ``bm25``.

This module is the plugin's entry point and stays light: Java, pyjnius and pyserini are only
touched (in :mod:`rankfw_bm25.jvm`) when a retriever actually searches.
"""

from __future__ import annotations

from collections.abc import Callable

from rankfw.core import Retriever, hookimpl
from rankfw_bm25.retriever import BM25Retriever

__version__ = "0.1.0"
__all__ = ["BM25Retriever", "register_retrievers"]


@hookimpl
def register_retrievers(register: Callable[[str, type[Retriever]], None]) -> None:
    """Register the ``bm25`` retriever."""
    register("bm25", BM25Retriever)
