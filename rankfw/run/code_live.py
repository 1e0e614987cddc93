"""The code digest of a class that has no source file: one defined in a notebook cell, by ``exec``
or in an interactive session. Its methods' bytecode and constants stand in for the file, with the
functions and classes of its module that they name (helpers defined in the same notebook), so that
editing the cell recomputes its stages and running the same cell again in a new kernel reuses them.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from rankfw.core.io import text_digest

_PLAIN = (str, int, float, bool, bytes, type(None))


def live_digest(cls: type) -> tuple[str, dict[str, str]]:
    """The digest of ``cls``'s code as loaded, and a digest per function or class it covers."""
    module = sys.modules.get(cls.__module__)
    names = vars(module) if module is not None else {}
    parts: dict[str, str] = {}
    seen: set[int] = set()

    def add(obj: Any) -> None:
        if id(obj) in seen or getattr(obj, "__module__", None) != cls.__module__:
            return
        seen.add(id(obj))
        if isinstance(obj, type):
            body = [f"bases {[b.__qualname__ for b in obj.__bases__]}"]
            for base in obj.__bases__:
                add(base)
            for name, value in sorted(vars(obj).items()):
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                functions = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
                for item in functions:
                    if isinstance(item, (types.FunctionType, type)):
                        body.append(f"{name}: {item.__qualname__}")
                        add(item)
                if not name.startswith("__") and _plain(value):
                    body.append(f"{name} = {value!r}")
            parts[f"class {obj.__qualname__}"] = text_digest(*body)
        elif isinstance(obj, types.FunctionType):
            parts[f"def {obj.__qualname__}"] = text_digest(_code_text(obj.__code__), repr(obj.__defaults__))
            for name in _global_names(obj.__code__):
                if name in names:
                    add(names[name])

    add(cls)
    return text_digest("live", cls.__module__, *(x for item in sorted(parts.items()) for x in item)), parts


def _plain(value: Any) -> bool:
    if isinstance(value, (tuple, list, frozenset)):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def _code_text(code: types.CodeType) -> str:
    """Bytecode, names and constants of ``code`` and the code nested in it; not its file name or
    line numbers, which change between kernels and cells without changing what it does."""
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return repr((code.co_code.hex(), code.co_names, code.co_varnames, code.co_freevars, consts))


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
