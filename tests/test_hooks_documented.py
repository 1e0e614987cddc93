"""Meta-tests that keep the plugin surface honest (as datasette does): every hook is documented in
the README with its signature, and every hook is exercised by the test plugin."""

from __future__ import annotations

import inspect
from pathlib import Path

from rankfw.core import hookspecs
from rankfw.core.registry import HOOKS, Registry

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
HOOK_NAMES = sorted(n for n, f in vars(hookspecs).items() if inspect.isfunction(f) and n.startswith("register_"))


def test_every_hook_has_a_docstring_and_appears_in_the_readme() -> None:
    assert HOOK_NAMES == sorted(HOOKS.values())
    for name in HOOK_NAMES:
        func = getattr(hookspecs, name)
        assert func.__doc__ and "register(" in func.__doc__
        params = ", ".join(inspect.signature(func).parameters)
        assert f"`{name}({params})`" in README, f"{name} is not documented in README.md"


def test_every_hook_is_used_by_the_test_plugin(registry: Registry) -> None:
    for kind in HOOKS:
        assert registry.names(kind), f"no test component registered through the {kind} hook"


# --- docs/plugins.md: every hook, every rule and every API name ---------------------------------

PLUGINS_DOC = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_every_hook_has_its_own_section_in_the_plugin_docs() -> None:
    for name in HOOK_NAMES:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({params})`" in PLUGINS_DOC, f"{name} has no section in docs/plugins.md"


def test_every_registration_rule_is_stated_in_the_plugin_docs() -> None:
    from rankfw.core.rules import RULES

    for rule, text in RULES.items():
        assert text in PLUGINS_DOC, f"rule {rule!r} is not stated word for word in docs/plugins.md"


def test_every_name_of_the_plugin_api_is_listed_in_the_plugin_docs() -> None:
    import rankfw.core
    import rankfw.models

    for module in (rankfw.core, rankfw.models):
        missing = [n for n in module.__all__ if f"`{n}`" not in PLUGINS_DOC]
        assert not missing, f"{module.__name__}: {missing} not in docs/plugins.md"


def test_the_tutorial_plugin_registers_and_reranks(tmp_path: Path) -> None:
    import re
    import types

    from rankfw.core import Run, StageContext
    from rankfw.core.registry import load_registry
    from rankfw.data import JsonlCorpus

    code = re.findall(r"```python\n(.*?)```", PLUGINS_DOC, flags=re.S)[0]
    module = types.ModuleType("rankfw_length")
    exec(compile(code, "docs/plugins.md", "exec"), module.__dict__)
    registry = load_registry(extra_plugins=[("length", module)], use_entry_points=False)
    assert not registry.broken and registry.names("reranker") == ["length"]
    (tmp_path / "c.jsonl").write_text('{"docid": "long", "text": "a b c d e f"}\n{"docid": "short", "text": "a b"}\n', encoding="utf-8")
    cls = registry.get("reranker", "length").cls
    run = Run.from_scores({"q1": {"long": 1.0, "short": 1.0}})
    out = cls(cls.Config(k=1)).rerank({"q1": "a"}, run, JsonlCorpus(tmp_path / "c.jsonl", tmp_path), StageContext("s", "en", tmp_path, tmp_path))
    assert out["q1"] == [("short", 1.0 - 0.02)]
