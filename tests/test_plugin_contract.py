"""The import contract: plugin sources import from rankfw only ``rankfw.core``, ``rankfw.models``
and ``rankfw.testing`` (the plugin API, docs/plugins.md), and only names those modules export."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
API = ("rankfw.core", "rankfw.models", "rankfw.models.onnx_runtime", "rankfw.testing", "rankfw.testing.tiny_models",
       "rankfw.testing.contracts")


def plugin_sources() -> list[Path]:
    """Every source file of our plugins, the example plugin and the test plugin (not their tests)."""
    found = [
        *REPO.glob("plugins/*/rankfw_*/**/*.py"),
        *(p for p in REPO.glob("examples/plugins/*/**/*.py") if "tests" not in p.relative_to(REPO).parts),
        *REPO.glob("tests/plugin/rankfw_testplugin/**/*.py"),
    ]
    return sorted(found)


def rankfw_imports(source: str, filename: str = "<plugin>") -> list[tuple[int, str, str | None]]:
    """``(line, module, name)`` for every import of rankfw in ``source`` (``name`` None for ``import x``)."""
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "rankfw"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "rankfw":
            out += [(node.lineno, node.module, a.name) for a in node.names]
    return out


def violations(source: str, filename: str = "<plugin>") -> list[str]:
    """What in ``source`` breaks the contract, one line each."""
    problems = []
    for line, module, name in rankfw_imports(source, filename):
        if module not in API:
            problems.append(f"{filename}:{line}: imports {module} (use {', '.join(API[:3])})")
        elif name is not None:
            exported = getattr(importlib.import_module(module), "__all__", None)
            if exported is not None and name not in exported and name != "*":
                problems.append(f"{filename}:{line}: {module} does not export {name!r}")
    return problems


def test_the_plugins_are_found() -> None:
    names = {p.relative_to(REPO).parts[:2] for p in plugin_sources()}
    assert {("plugins", "bm25"), ("plugins", "fusion"), ("plugins", "biencoder_distill"), ("plugins", "crossencoder_nmt"),
            ("examples", "plugins"), ("tests", "plugin")} <= names


@pytest.mark.parametrize("path", plugin_sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_plugin_sources_import_only_the_plugin_api(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(REPO))) == []


@pytest.mark.parametrize(("source", "problem"), [
    ("from rankfw.core.io import atomic_open\n", "imports rankfw.core.io"),
    ("import rankfw.data.corpus\n", "imports rankfw.data.corpus"),
    ("def f():\n    from rankfw.run.runner import Runner\n", "imports rankfw.run.runner"),
    ("from rankfw.core import cached_file_digest\n", "rankfw.core does not export 'cached_file_digest'"),
    ("from rankfw.executors.local import invoke\n", "imports rankfw.executors.local"),
])
def test_the_contract_test_catches_a_private_import(source: str, problem: str) -> None:
    assert any(problem in v for v in violations(source))


def test_the_api_modules_pass_their_own_contract() -> None:
    assert violations("from rankfw.core import Reranker, hookimpl\nfrom rankfw.models import resolve_model\n"
                      "from rankfw.testing import xquad_data\nimport rankfw.core\n") == []
