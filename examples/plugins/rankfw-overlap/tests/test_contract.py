"""The query-overlap reranker passes rankfw's reranker conformance suite (rankfw.testing.contracts)."""

from __future__ import annotations

from typing import Any

import pytest
from rankfw_overlap import QueryOverlapReranker

from rankfw.testing.contracts import RerankerContract


class TestQueryOverlap(RerankerContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: QueryOverlapReranker(QueryOverlapReranker.Config(**({"k": k} if k else {})))
