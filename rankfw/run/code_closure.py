"""The source files a class's code can run: its module and, transitively, what that imports.

Imports are read from each file's syntax tree (every ``import`` and ``from ... import``, those inside
functions included), and only imports of modules under the given *roots* (top-level packages, or
subpackages such as ``rankfw.models``) are followed. A module's parent packages are in the closure
too (their ``__init__.py`` runs first), but their own imports are followed only when the code imports
a name from the package itself; such a name is traced to the module the ``__init__.py`` took it
from, or, when the ``__init__.py`` defines it or exports it lazily, the whole ``__init__.py`` is
followed. A string literal that names a module under a root (a lazy-export table) counts as an
import, and so does ``import_module("a.b")``. A file that imports by a computed name
(``import_module(name)``) or does not parse brings in its whole root package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Facts = dict[str, Any]
"""What :func:`file_facts` read from one file (JSON-able, so it can be remembered)."""

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


def file_facts(source: str) -> Facts:
    """The imports of one source file: ``import`` names, ``[level, module, [[name, bound as]]]`` of
    each ``from`` import, and string literals that look like dotted module names."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {"unparsed": True}
    imports: list[str] = []
    froms: list[list[Any]] = []
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            froms.append([node.level, node.module or "", [[a.name, a.asname or a.name] for a in node.names]])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.fullmatch(node.value):
            strings.add(node.value)
        elif isinstance(node, ast.Call) and _imports_by_name(node):
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                return {"dynamic": True}
            imports.append(first.value)
    return {"import": imports, "from": froms, "strings": sorted(strings)}


def _imports_by_name(call: ast.Call) -> bool:
    """Whether ``call`` is ``import_module(...)``, ``importlib.import_module(...)`` or ``__import__(...)``."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in ("import_module", "__import__")


class ModuleClosure:
    """The files reachable from modules under ``roots`` (name -> the folders of a package, or the one
    file of a single-file module); ``facts`` gives a file's :func:`file_facts` (memoised by the caller)."""

    def __init__(self, roots: dict[str, list[Path]], facts: Callable[[Path], Facts]) -> None:
        self.roots = roots
        self.facts = facts
        self.files: dict[str, Path] = {}
        """module name (``pkg.__init__`` for a package) -> its source file"""
        self._followed: set[str] = set()
        self._traced: set[tuple[str, str]] = set()

    def add(self, module: str) -> None:
        """Put ``module``, its parent packages and everything it imports into the closure."""
        self._visit(module, follow=True)

    def _root_of(self, module: str) -> str | None:
        matches = [r for r in self.roots if module == r or module.startswith(r + ".")]
        return max(matches, key=len) if matches else None

    def file_of(self, module: str) -> Path | None:
        """The source file of ``module`` when it lies under a root, else ``None``."""
        root = self._root_of(module)
        if root is None:
            return None
        rest = module[len(root):].lstrip(".").split(".") if module != root else []
        for place in self.roots[root]:
            if place.suffix == ".py":
                if not rest and place.is_file():
                    return place
                continue
            base = place.joinpath(*rest)
            if (base / "__init__.py").is_file():
                return base / "__init__.py"
            if rest and base.with_suffix(".py").is_file():
                return base.with_suffix(".py")
        return None

    def _visit(self, module: str, follow: bool) -> None:
        path = self.file_of(module)
        if path is None:
            return
        package = path.name == "__init__.py"
        self.files[f"{module}.__init__" if package else module] = path
        root = self._root_of(module) or module
        parts = module.split(".")
        for n in range(len(root.split(".")), len(parts)):  # parent packages: their __init__.py runs first
            parent = ".".join(parts[:n])
            if parent not in self.files and f"{parent}.__init__" not in self.files:
                self._visit(parent, follow=False)
        if not follow or module in self._followed:
            return
        self._followed.add(module)
        facts = self.facts(path)
        if facts.get("unparsed") or facts.get("dynamic"):
            self._whole_root(root)
            return
        here = module if package else module.rpartition(".")[0]
        for name in facts["import"]:
            self._visit(name, follow=True)
        for level, base, names in facts["from"]:
            absolute = _absolute(here, level, base)
            for name, _ in names:
                self._from_import(absolute, name)
        for text in facts["strings"]:
            if self.file_of(text) is not None:
                self._visit(text, follow=True)

    def _from_import(self, base: str, name: str) -> None:
        if (base, name) in self._traced:
            return
        self._traced.add((base, name))
        path = self.file_of(base)
        if path is None:
            return
        if name != "*" and self.file_of(f"{base}.{name}") is not None:
            self._visit(f"{base}.{name}", follow=True)
            return
        if name == "*" or path.name != "__init__.py":
            self._visit(base, follow=True)
            return
        facts = self.facts(path)
        sources = [(_absolute(base, level, source), original) for level, source, names in facts.get("from", [])
                   for original, bound in names if bound == name and original != "*"]
        if not sources:
            self._visit(base, follow=True)  # defined in the __init__.py, or exported lazily
            return
        self._visit(base, follow=False)
        for source, original in sources:  # every binding: ``try: from .fast import f`` / ``except: from .slow ...``
            self._from_import(source, original)

    def _whole_root(self, root: str) -> None:
        for place in self.roots[root]:
            files = [place] if place.suffix == ".py" else sorted(place.rglob("*.py"))
            for file in files:
                if "__pycache__" in file.parts:
                    continue
                rel = file.relative_to(place).with_suffix("").parts if place.suffix != ".py" else ()
                self.files[".".join((root, *rel))] = file  # a package's file is named pkg.__init__


def _absolute(package: str, level: int, module: str) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``package``."""
    if level == 0:
        return module
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)
