"""The registry: entry-point loading one plugin at a time, broken plugins, conflicts, filtering."""

from __future__ import annotations

import types
from typing import Any

import pytest
import rankfw_testplugin

import rankfw.core.registry as reg
from rankfw.core import InputError, Reranker, hookimpl
from rankfw.core.registry import load_registry


@pytest.fixture(autouse=True)
def _only_the_entry_points_each_test_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests build registries from fake entry points: no extra plugin from the environment."""
    monkeypatch.delenv(reg.EXTRA_PLUGINS_ENV, raising=False)


def test_test_plugin_registers_one_component_of_each_kind(registry: reg.Registry) -> None:
    kinds = {kind: registry.names(kind) for kind in reg.HOOKS}
    assert kinds == {"retriever": ["overlap"], "reranker": ["idf-overlap"], "trainer": ["idf"], "fuser": ["sum"]}
    info = registry.get("reranker", "idf-overlap")
    assert info.cls is rankfw_testplugin.IdfOverlapReranker
    assert info.distribution == "testplugin" and info.version == "0.1.0"
    assert info.defaults() == {"k": 100, "fail_on": None, "seconds_per_query": 0.0}
    assert "model" in info.config_class.model_json_schema()["required"]


def test_unknown_component_suggests_the_closest(registry: reg.Registry) -> None:
    with pytest.raises(InputError, match=r"unknown reranker 'idf-overlp'; did you mean 'idf-overlap'\? \(installed: idf-overlap\)"):
        registry.get("reranker", "idf-overlp")


def _plugin(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook, func in hooks.items():
        setattr(module, hook, hookimpl(func))
    return module


class _Fake:
    def __init__(self, name: str, module: Any, dist: str = "fake-dist") -> None:
        self.name = name
        self._module = module
        self.dist = types.SimpleNamespace(name=dist, version="9.9")

    def load(self) -> Any:
        if isinstance(self._module, BaseException):
            raise self._module
        return self._module


def _other_reranker() -> type[Reranker]:
    class Other(rankfw_testplugin.IdfOverlapReranker):
        description = "another one"

    return Other


def test_broken_import_hook_error_and_conflicts_keep_the_rest_working(monkeypatch: pytest.MonkeyPatch) -> None:
    raising_hook = _plugin("hook_raises", register_rerankers=lambda register: 1 / 0)
    duplicate = _plugin("dup", register_rerankers=lambda register: register("idf-overlap", _other_reranker()))
    bad_class = _plugin("bad_class", register_fusers=lambda register: register("x", object))
    fakes = [
        _Fake("good", rankfw_testplugin, "rankfw-testplugin"),
        _Fake("import_fails", ImportError("No module named 'missing_dep'"), "broken-import"),
        _Fake("hook_raises", raising_hook, "broken-hook"),
        _Fake("dup", duplicate, "dup-dist"),
        _Fake("bad_class", bad_class, "bad-class-dist"),
    ]
    monkeypatch.setattr(reg, "_entry_points", lambda: fakes)
    monkeypatch.delenv(reg.LOAD_PLUGINS_ENV, raising=False)
    registry = load_registry()
    broken = {b.distribution: b.error for b in registry.broken}
    assert broken["broken-import"].startswith("ImportError: No module named 'missing_dep'")
    assert broken["broken-hook"].startswith("ZeroDivisionError")
    assert "not a subclass of rankfw.core.Fuser" in broken["bad-class-dist"]
    assert registry.get("retriever", "overlap").distribution == "rankfw-testplugin"
    with pytest.raises(InputError, match="registered by two plugins \\(rankfw-testplugin 9.9 and dup-dist 9.9\\)"):
        registry.get("reranker", "idf-overlap")
    conflicts = registry.conflict_errors()
    assert {c.distribution for c in conflicts} == {"rankfw-testplugin", "dup-dist"}


def test_load_plugins_env_restricts_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    duplicate = _plugin("dup", register_rerankers=lambda register: register("idf-overlap", _other_reranker()))
    fakes = [_Fake("good", rankfw_testplugin, "rankfw-testplugin"), _Fake("dup", duplicate, "dup_dist")]
    monkeypatch.setattr(reg, "_entry_points", lambda: fakes)
    monkeypatch.setenv(reg.LOAD_PLUGINS_ENV, "Dup-Dist")
    only_dup = load_registry()
    assert only_dup.get("reranker", "idf-overlap").distribution == "dup_dist"
    assert only_dup.names("retriever") == []
    monkeypatch.setenv(reg.LOAD_PLUGINS_ENV, "")
    assert load_registry().components == {}


def test_a_misspelt_hook_makes_the_plugin_broken_naming_the_closest_hook(registry: reg.Registry) -> None:
    misspelt = _plugin("misspelt", register_reranker=lambda register: register("never", _other_reranker()))
    registry.add_plugin(misspelt, "misspelt", "rankfw-misspelt", "1.0")
    (broken,) = registry.broken
    assert broken.distribution == "rankfw-misspelt"
    assert broken.error.startswith("RuleError: unknown hook 'register_reranker'; did you mean 'register_rerankers'?")
    assert "never" not in registry.names("reranker")
    good_after = _plugin("later", register_fusers=lambda register: register("later-sum", rankfw_testplugin.SumFuser))
    registry.add_plugin(good_after, "later")  # the broken plugin was unregistered: it does not taint the next
    assert "later-sum" in registry.names("fuser") and len(registry.broken) == 1


def _raises(error: BaseException) -> Any:
    def hook(register: Any) -> None:
        register("half", rankfw_testplugin.OverlapRetriever)  # registered before it fails: never usable
        raise error

    return hook


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_any_base_exception_at_import_or_in_a_hook_makes_the_plugin_broken(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    in_hook = _plugin("in_hook", register_retrievers=_raises(error))
    fakes = [_Fake("at_import", error, "dist-import"), _Fake("in_hook", in_hook, "dist-hook"),
             _Fake("good", rankfw_testplugin, "rankfw-testplugin")]
    monkeypatch.setattr(reg, "_entry_points", lambda: fakes)
    monkeypatch.delenv(reg.LOAD_PLUGINS_ENV, raising=False)
    registry = load_registry()
    broken = {b.distribution: b for b in registry.broken}
    name = type(error).__name__
    assert broken["dist-import"].error.startswith(name) and broken["dist-hook"].error.startswith(name)
    assert registry.names("retriever") == ["overlap", "runfile"]  # the test plugin's and the built-in one
    with pytest.raises(InputError, match=rf"^unknown retriever 'half' \(plugin 'in_hook' is broken: {name}"):
        registry.get("retriever", "half")
    with pytest.raises(InputError, match=r"unknown retriever 'nothing' \(plugin 'at_import' is broken: .*plugin 'in_hook'"):
        registry.get("retriever", "nothing")  # no plugin claimed it: every broken plugin is named


def test_a_real_ctrl_c_while_plugins_load_still_stops_rankfw(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import time

    class _Interrupted(_Fake):
        def load(self) -> Any:
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, delivered as a signal
            time.sleep(5)
            raise AssertionError("SIGINT was not delivered")

    monkeypatch.setattr(reg, "_entry_points", lambda: [_Interrupted("slow", None)])
    # Python's own handler, as in a terminal: a process started in the background by a shell without
    # job control (`cmd &` in a script, nohup) inherits SIGINT ignored, and then Ctrl-C rightly stops nothing
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            load_registry()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_an_ignored_sigint_stays_ignored_while_plugins_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    class _Interrupted(_Fake):
        def load(self) -> Any:
            os.kill(os.getpid(), signal.SIGINT)  # nohup'd: no KeyboardInterrupt, the plugin loads
            return rankfw_testplugin

    monkeypatch.setattr(reg, "_entry_points", lambda: [_Interrupted("ignored", None, "rankfw-testplugin")])
    inherited = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        registry = load_registry()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert not registry.broken
