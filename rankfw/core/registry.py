"""The plugin manager and the component registry.

Entry points of the group ``rankfw`` are loaded one at a time: a plugin that fails to import or
whose hook raises is recorded as broken (with its distribution, version and error) and every
other plugin keeps working. ``RANKFW_LOAD_PLUGINS`` (comma-separated distribution names; empty
for none) restricts which distributions are loaded. ``RANKFW_EXTRA_PLUGINS`` (comma-separated
module names) registers plugin modules that are importable but not installed with an entry point
(rankfw's own tests use it for tests/plugin).
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
from rankfw.core.components import COMPONENT_KINDS, Component, ComponentConfig
from rankfw.core.errors import InputError

ENTRY_POINT_GROUP = "rankfw"
LOAD_PLUGINS_ENV = "RANKFW_LOAD_PLUGINS"
EXTRA_PLUGINS_ENV = "RANKFW_EXTRA_PLUGINS"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

BUILTIN_PLUGINS = ("rankfw.builtin.runfile",)
"""Plugin modules that ship with rankfw, registered with the installed ones (as simonw/llm does)."""

HOOKS: dict[str, str] = {
    "retriever": "register_retrievers",
    "reranker": "register_rerankers",
    "trainer": "register_trainers",
    "fuser": "register_fusers",
}
"""Component kind -> the hook that registers it."""


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
        try:
            self.plugin_manager.register(plugin, name=name)
        except Exception as e:  # a malformed hookimpl, a name registered twice
            self.broken.append(BrokenPlugin(name, distribution, version, _one_line(e)))
            return
        found: list[ComponentInfo] = []
        try:
            for kind, hook_name in HOOKS.items():
                hook = getattr(self.plugin_manager.hook, hook_name)
                for impl in hook.get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=self._registrar(kind, name, distribution, version, found))
        except Exception as e:
            self.plugin_manager.unregister(plugin)
            self.broken.append(BrokenPlugin(name, distribution, version, _one_line(e)))
            return
        for info in found:
            self._add(info)

    def _registrar(self, kind: str, plugin: str, distribution: str, version: str, found: list[ComponentInfo]) -> Any:
        base = COMPONENT_KINDS[kind]

        def register(name: str, cls: type[Component]) -> None:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise ValueError(f"invalid {kind} name {name!r}: use lower-case letters, digits, '-', '_', '.'")
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"{kind} {name!r}: {cls!r} is not a subclass of rankfw.core.{base.__name__}")
            if not (isinstance(cls.Config, type) and issubclass(cls.Config, ComponentConfig)):
                raise TypeError(f"{kind} {name!r}: Config must subclass rankfw.core.ComponentConfig")
            if not cls.description:
                raise TypeError(f"{kind} {name!r}: the class has no description")
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
            try:
                module = ep.load()
            except Exception as e:  # any failure at import: record it, keep going
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
