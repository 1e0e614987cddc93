"""Test-session setup shared by tests/ and plugins/*/tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TEST_PLUGIN = Path(__file__).resolve().parent / "tests" / "plugin"
"""rankfw's test plugin (rankfw_testplugin): not installed, imported from here."""

if str(TEST_PLUGIN) not in sys.path:
    sys.path.insert(0, str(TEST_PLUGIN))
# The whole test session (and every rankfw subprocess it starts) loads the test plugin besides the
# installed ones, as if it were installed; tests of a default install unset this themselves.
os.environ.setdefault("RANKFW_EXTRA_PLUGINS", "rankfw_testplugin")
if str(TEST_PLUGIN) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TEST_PLUGIN), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="session")
def testplugin_env() -> dict[str, str]:
    """The environment of a rankfw subprocess that loads the test plugin and no installed plugin:
    ``RANKFW_EXTRA_PLUGINS=rankfw_testplugin`` with tests/plugin on ``PYTHONPATH``."""
    path = os.pathsep.join(p for p in (str(TEST_PLUGIN), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "RANKFW_EXTRA_PLUGINS": "rankfw_testplugin", "RANKFW_LOAD_PLUGINS": ""}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the BM25 plugin's tests first: pyserini's JVM has crashed (SIGSEGV) when it started in a
    process where torch and Ray had already run many threads, never when it started first."""
    items.sort(key=lambda item: 0 if "plugins/bm25/" in item.nodeid.replace("\\", "/") else 1)
