"""The plugin manager and the component registry.

Entry points of the group ``rankfw`` are loaded one at a time: a plugin that fails to import,
whose hook raises, or that breaks a registration rule (:data:`rankfw.core.rules.RULES`: hook
names, component names, base classes, ``Config``, ``description``, uniqueness) is recorded as
broken (with its distribution, version and error) and every other plugin keeps working.
``RANKFW_LOAD_PLUGINS`` (comma-separated distribution names; empty for none) restricts which
distributions are loaded.

Any ``BaseException`` a plugin raises at import or in its hook (``SystemExit``, a
``KeyboardInterrupt`` it raises itself) makes it broken. The user's own Ctrl-C is told apart by
a SIGINT handler installed while plugins load: a ``KeyboardInterrupt`` that follows a real SIGINT
propagates, so Ctrl-C still stops rankfw while it loads plugins.
``RANKFW_EXTRA_PLUGINS`` (comma-separated module names) registers plugin modules that are
importable but not installed with an entry point (rankfw's own tests use it for tests/plugin).
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from rankfw.core import hookspecs
from rankfw.core.components import Component, ComponentConfig
from rankfw.core.errors import InputError
from rankfw.core.kinds import BASES, HOOKS
from rankfw.core.rules import NAME_PATTERN, PluginGuard, check_component, check_hooks  # noqa: F401

ENTRY_POINT_GROUP = "rankfw"
LOAD_PLUGINS_ENV = "RANKFW_LOAD_PLUGINS"
EXTRA_PLUGINS_ENV = "RANKFW_EXTRA_PLUGINS"

BUILTIN_PLUGINS = ("rankfw.builtin.runfile",)
"""Plugin modules that ship with rankfw, registered with the installed ones (as simonw/llm does)."""


@dataclass(frozen=True)
class ComponentInfo:
    """A registered component and where it came from."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str
    distribution: str
    version: str

    @property
    def description(self) -> str:
        return self.cls.description

    @property
    def config_class(self) -> type[ComponentConfig]:
        return self.cls.Config

    def defaults(self) -> dict[str, Any]:
        """The Config's default values as JSON-ready data (fields without a default are left out)."""
        from pydantic import BaseModel

        out = {}
        for name, f in self.cls.Config.model_fields.items():
            if not f.is_required():
                value = f.get_default(call_default_factory=True)
                out[name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        return out

    def parameters(self) -> list[Any]:
        """The Config's fields described for people (:class:`rankfw.spec.params_doc.Parameter`)."""
        from rankfw.spec.params_doc import parameters

        return parameters(self.cls.Config)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "citation": self.cls.citation,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded or registered, and why."""

    plugin: str
    distribution: str
    version: str
    error: str
    components: tuple[tuple[str, str], ...] = ()
    """The (kind, name) pairs it registered before it failed (none are usable)."""

    def as_dict(self) -> dict[str, str]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version, "error": self.error}


@dataclass
class Registry:
    """Every installed component by kind and name, plus the plugins that broke."""

    components: dict[tuple[str, str], ComponentInfo] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], list[ComponentInfo]] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager = field(default_factory=lambda: _new_plugin_manager())

    def add_plugin(self, plugin: ModuleType | object, name: str, distribution: str = "", version: str = "") -> None:
        """Register one plugin object (a module with ``@hookimpl`` functions) and its components.

        Errors in the plugin's hooks or in what it registers make it a :class:`BrokenPlugin`; a
        plugin object registered already (an entry point and an extra plugin) is skipped.
        """
        if self.plugin_manager.is_registered(plugin):
            return
        distribution = distribution or name
        version = version or str(getattr(plugin, "__version__", "0"))
        found: list[ComponentInfo] = []
        with PluginGuard() as interrupts:
            try:
                self.plugin_manager.register(plugin, name=name)
            except BaseException as e:  # a malformed hookimpl, a name registered twice
                interrupts.reraise_if_user(e)
                self.broken.append(BrokenPlugin(name, distribution, version, _one_line(e)))
                return
            try:
                check_hooks(self.plugin_manager, plugin, list(HOOKS.values()))
                for kind, hook_name in HOOKS.items():
                    hook = getattr(self.plugin_manager.hook, hook_name)
                    for impl in hook.get_hookimpls():
                        if impl.plugin is plugin:
                            impl.function(register=self._registrar(kind, name, distribution, version, found))
            except BaseException as e:
                interrupts.reraise_if_user(e)
                self.plugin_manager.unregister(plugin)
                claimed = tuple((i.kind, i.name) for i in found)
                self.broken.append(BrokenPlugin(name, distribution, version, _one_line(e), claimed))
                return
        for info in found:
            self._add(info)

    def _registrar(self, kind: str, plugin: str, distribution: str, version: str, found: list[ComponentInfo]) -> Any:
        base = BASES[kind]

        def register(name: str, cls: type[Component]) -> None:
            check_component(kind, base, name, cls)
            found.append(ComponentInfo(kind, name, cls, plugin, distribution, version))

        return register

    def _add(self, info: ComponentInfo) -> None:
        key = (info.kind, info.name)
        if key in self.conflicts:
            self.conflicts[key].append(info)
        elif key in self.components:
            self.conflicts[key] = [self.components.pop(key), info]
        else:
            self.components[key] = info

    def get(self, kind: str, name: str, where: str | None = None) -> ComponentInfo:
        """The component ``name`` of ``kind``; an :class:`InputError` suggests the closest name."""
        key = (kind, name)
        if key in self.components:
            return self.components[key]
        if key in self.conflicts:
            dists = " and ".join(f"{i.distribution} {i.version}" for i in self.conflicts[key])
            raise InputError(
                f"{kind} {name!r} is registered by two plugins ({dists}); uninstall one "
                f"or choose with {LOAD_PLUGINS_ENV}",
                where,
            )
        claimed = [b for b in self.broken if (kind, name) in b.components]
        if claimed or self.broken:
            why = "; ".join(f"plugin {b.plugin!r} is broken: {b.error}" for b in (claimed or self.broken))
            raise InputError(f"unknown {kind} {name!r} ({why})", where)
        choices = self.names(kind)
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(choices) if choices else "none installed"
        raise InputError(f"unknown {kind} {name!r}{hint} (installed: {listed})", where)

    def find(self, name: str) -> list[ComponentInfo]:
        """Every component called ``name``, whatever its kind."""
        return [info for (_, n), info in sorted(self.components.items()) if n == name]

    def names(self, kind: str) -> list[str]:
        """The names of every usable component of ``kind``, sorted."""
        return sorted(n for k, n in self.components if k == kind)

    def conflict_errors(self) -> list[BrokenPlugin]:
        """Each name two plugins registered, as an error naming both distributions."""
        out = []
        for (kind, name), infos in sorted(self.conflicts.items()):
            dists = ", ".join(f"{i.distribution} {i.version}" for i in infos)
            for info in infos:
                out.append(
                    BrokenPlugin(info.plugin, info.distribution, info.version,
                                 f"{kind} {name!r} is registered by several distributions: {dists}")
                )
        return out


def _new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip()
    first = text.splitlines()[0] if text else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        first += f" ({os.path.basename(last.filename)}:{last.lineno})"
    return first


def _selected(env: str | None) -> set[str] | None:
    if env is None:
        return None
    return {_normalise(d) for d in env.split(",") if d.strip()}


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution.strip()).lower()


def _entry_points() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_registry(extra_plugins: list[tuple[str, object]] | None = None, use_entry_points: bool = True) -> Registry:
    """Build a registry from installed entry points (filtered by ``RANKFW_LOAD_PLUGINS``), the
    modules named in ``RANKFW_EXTRA_PLUGINS`` (both only with ``use_entry_points``) and any
    ``extra_plugins`` given as ``(name, module)`` pairs."""
    registry = Registry()
    if use_entry_points:
        wanted = _selected(os.environ.get(LOAD_PLUGINS_ENV))
        if wanted is None or "rankfw" in wanted:  # the built-in plugins count as distribution "rankfw"
            from rankfw import __version__

            for module_name in BUILTIN_PLUGINS:
                registry.add_plugin(importlib.import_module(module_name), module_name.rsplit(".", 1)[-1], "rankfw", __version__)
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else ep.name
            version = ep.dist.version if ep.dist is not None else "0"
            if wanted is not None and _normalise(dist) not in wanted:
                continue
            with PluginGuard() as interrupts:
                try:
                    module = ep.load()
                except BaseException as e:  # any failure at import: record it, keep going
                    interrupts.reraise_if_user(e)
                    registry.broken.append(BrokenPlugin(ep.name, dist, version, _one_line(e)))
                    continue
            registry.add_plugin(module, ep.name, dist, version)
        for name in _names(os.environ.get(EXTRA_PLUGINS_ENV, "")):
            _add_module(registry, name)
    for name, module in extra_plugins or []:
        registry.add_plugin(module, name)
    return registry


def _names(env: str) -> list[str]:
    return [n.strip() for n in env.split(",") if n.strip()]


def _add_module(registry: Registry, name: str) -> None:
    """Import the plugin module ``name`` (from ``RANKFW_EXTRA_PLUGINS``) and register it."""
    import importlib
    from importlib.metadata import packages_distributions, version

    try:
        module = importlib.import_module(name)
    except Exception as e:  # any failure at import: record it, keep going
        registry.broken.append(BrokenPlugin(name, name, "?", _one_line(e)))
        return
    dists = packages_distributions().get(name.split(".")[0], [])
    distribution = dists[0] if dists else name
    registry.add_plugin(module, name, distribution, version(distribution) if dists else "")


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of the installed plugins, built once per process."""
    return load_registry()
