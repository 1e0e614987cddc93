"""The bm25 retriever passes the conformance suite of rankfw.testing.contracts."""

from __future__ import annotations

from typing import Any

import pytest
from rankfw_bm25.retriever import BM25Retriever

from rankfw.testing.contracts import RetrieverContract


class TestBM25(RetrieverContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: BM25Retriever(BM25Retriever.Config(threads=1, **({"k": k} if k else {})))
