"""Test-session setup shared by tests/ and plugins/*/tests."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the BM25 plugin's tests first: pyserini's JVM has crashed (SIGSEGV) when it started in a
    process where torch and Ray had already run many threads, never when it started first."""
    items.sort(key=lambda item: 0 if "plugins/bm25/" in item.nodeid.replace("\\", "/") else 1)
