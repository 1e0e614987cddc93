"""The test plugin is not part of an install: requirements.txt leaves it out, a registry of the
installed plugins has none of its components, and the tests load it through
RANKFW_EXTRA_PLUGINS (a subprocess) or ``extra_plugins`` (in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rankfw_testplugin
from click.testing import CliRunner

import rankfw.core.registry as reg
from rankfw.cli import main

REPO = Path(__file__).resolve().parents[1]
TEST_COMPONENTS = {("retriever", "overlap"), ("reranker", "idf-overlap"), ("trainer", "idf"), ("fuser", "sum")}


def test_requirements_leave_the_test_plugin_out() -> None:
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert "-e ." not in lines and any(line.startswith("-e .[") for line in lines)  # the core is there
    assert not any("tests/plugin" in line or "testplugin" in line for line in lines)


def test_installed_plugins_without_the_test_plugin_list_only_real_components(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a default install sees: the entry points of every installed distribution but this one
    installed = [ep for ep in reg._entry_points() if ep.dist is None or ep.dist.name != "rankfw-testplugin"]
    monkeypatch.setattr(reg, "_entry_points", lambda: installed)
    monkeypatch.delenv(reg.LOAD_PLUGINS_ENV, raising=False)
    monkeypatch.delenv(reg.EXTRA_PLUGINS_ENV, raising=False)
    registry = reg.load_registry()
    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    listed = json.loads(CliRunner().invoke(main, ["plugins", "list", "--json"]).stdout)["components"]
    assert not any(c["distribution"] == "rankfw-testplugin" for c in listed)
    assert not any(info.cls.__module__.startswith("rankfw_testplugin") for info in registry.components.values())
    assert not TEST_COMPONENTS & {(c["kind"], c["name"]) for c in listed}


def test_extra_plugins_env_registers_modules_once_and_records_broken_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reg, "_entry_points", list)
    monkeypatch.setenv(reg.EXTRA_PLUGINS_ENV, "rankfw_testplugin, no_such_plugin_module")
    registry = reg.load_registry()
    builtin = {key for key, info in registry.components.items() if info.distribution == "rankfw"}
    assert set(registry.components) - builtin == TEST_COMPONENTS
    assert registry.get("reranker", "idf-overlap").cls is rankfw_testplugin.IdfOverlapReranker
    assert [(b.plugin, b.error.split(":")[0]) for b in registry.broken] == [("no_such_plugin_module", "ModuleNotFoundError")]
    # the same module also given in-process (or installed with an entry point): registered once, no conflict
    twice = reg.load_registry(extra_plugins=[("testplugin", rankfw_testplugin)])
    assert set(twice.components) - builtin == TEST_COMPONENTS and twice.conflicts == {}
    assert reg.load_registry(use_entry_points=False).components == {}  # the environment is not read then


def test_a_subprocess_loads_the_test_plugin_from_the_environment(testplugin_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "rankfw", "plugins", "list", "--json"], env=testplugin_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {(c["kind"], c["name"]) for c in data["components"]} == TEST_COMPONENTS and data["broken"] == []
