"""The registration rules, stated once: what a plugin must do for its components to be usable.

A plugin that breaks any rule is listed as broken by ``rankfw plugins list`` (with the rule's
message) and registers nothing; every other plugin keeps working. docs/plugins.md repeats
:data:`RULES` word for word (a meta-test keeps the two in step).
"""

from __future__ import annotations

import difflib
import re
import signal
import threading
from typing import Any

import pluggy

from rankfw.core.components import Component, ComponentConfig

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

RULES: dict[str, str] = {
    "hook": "Every `@hookimpl` function is named after a hook of `rankfw.core.hookspecs`.",
    "name": "A component name matches `^[a-z0-9][a-z0-9_.-]*$` (lower-case letters, digits, '-', '_', '.').",
    "subclass": "A component class subclasses the base class of its kind (`Retriever`, `Reranker`, `Fuser`, `Trainer`).",
    "config": "A component's `Config` subclasses `rankfw.core.ComponentConfig`.",
    "description": "A component has a non-empty one-line `description`.",
    "unique": "No two plugins register the same kind and name (both are then reported; pick one with `RANKFW_LOAD_PLUGINS`).",
    "no-raise": "Importing the plugin and calling its hooks raises nothing (not even `SystemExit` or `KeyboardInterrupt`).",
}
"""Rule id -> the rule, as the docs state it."""


class RuleError(Exception):
    """A plugin broke a registration rule."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def check_component(kind: str, base: type[Component], name: object, cls: object) -> None:
    """Raise :class:`RuleError` unless ``register(name, cls)`` for ``kind`` follows the rules
    ``name``, ``subclass``, ``config`` and ``description``."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RuleError("name", f"invalid {kind} name {name!r}: use lower-case letters, digits, '-', '_', '.'")
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise RuleError("subclass", f"{kind} {name!r}: {cls!r} is not a subclass of rankfw.core.{base.__name__}")
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and issubclass(config, ComponentConfig)):
        raise RuleError("config", f"{kind} {name!r}: Config must subclass rankfw.core.ComponentConfig")
    if not getattr(cls, "description", ""):
        raise RuleError("description", f"{kind} {name!r}: the class has no description")


def check_hooks(pm: pluggy.PluginManager, plugin: object, hook_names: list[str]) -> None:
    """Rule ``hook``: raise :class:`RuleError` naming the first ``@hookimpl`` of ``plugin`` that
    matches no hook spec, and the closest real hook (pluggy's ``check_pending``, per plugin)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pass
    else:
        return
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec() and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls()):
            close = difflib.get_close_matches(caller.name, hook_names, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f" (hooks: {', '.join(hook_names)})"
            raise RuleError("hook", f"unknown hook {caller.name!r}{hint}")


class PluginGuard:
    """Rule ``no-raise``, while plugin code runs: tells the user's Ctrl-C (a real SIGINT) from a KeyboardInterrupt
    that the plugin raises itself. Outside the main thread no SIGINT can arrive, so every
    KeyboardInterrupt there is the plugin's."""

    def __init__(self) -> None:
        self.user = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> PluginGuard:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._on_sigint)
                self._installed = True
            except (ValueError, OSError):  # no signals here (an embedded interpreter)
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._previous == signal.SIG_IGN:
            return
        self.user = True
        if callable(self._previous):
            self._previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def reraise_if_user(self, error: BaseException) -> None:
        """Re-raise ``error`` when it is the user's Ctrl-C; else return (the plugin is broken)."""
        if isinstance(error, KeyboardInterrupt) and self.user:
            raise error
