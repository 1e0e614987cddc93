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
