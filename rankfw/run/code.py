"""A digest of a component's code, so that editing a plugin recomputes what it made, and only that.

- an editable or local install (or a plugin that is no distribution at all): the source files of the
  module that defines the class and of every module it imports, transitively, from its own top-level
  package (:mod:`rankfw.run.code_closure` says how imports are traced), and the files the package
  ships besides code (anything in its folders but ``*.py``, caches, hidden and backup files). Each
  file's hash and imports are remembered by (size, mtime_ns) in the cache, so a second digest reads
  no file. Editing a plugin's fine-tuning trainer does not change its reranker's digest unless the
  reranker's code imports the trainer's module. The versions of the libraries those files import
  (transformers, onnxruntime, pyserini: :mod:`rankfw.run.libraries`) are part of it;
- an installed wheel: the distribution's name and version plus its ``RECORD`` (the hash of every
  installed file) and the installed versions of what its ``Requires-Dist`` names;
- a class with no source file (a notebook cell, ``exec``): its methods' bytecode and constants and
  those of the module's functions and classes they name (:mod:`rankfw.run.code_live`).

A plugin's imports of :data:`SHARED` (rankfw's model helpers: ONNX export and quantization, model
references, training helpers) are traced too, so that editing, say, the int8 scheme recomputes the
runs it made. ``rankfw.core`` is the plugin API and is not hashed into plugins' digests (its
contract changes with rankfw's version); a component of rankfw itself traces all of ``rankfw``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from rankfw.core.io import atomic_write_json, file_digest, text_digest
from rankfw.run.code_closure import Facts, ModuleClosure, file_facts
from rankfw.run.code_live import live_digest
from rankfw.run.libraries import imported_tops, library_versions, required_versions

SHARED = ("rankfw.models",)
"""rankfw packages that do part of a plugin's work: a plugin importing one depends on its code."""

_MEMO: dict[str, tuple[int, int, str, Facts]] = {}
"""source file -> (size, mtime_ns, digest, its imports as :func:`file_facts` reads them)"""
_LOADED: dict[Path, dict[str, tuple[int, int, str, Facts]]] = {}
"""memo file -> what it held when read (or last written)"""


@dataclass(frozen=True)
class CodeState:
    """The digest of a class's code and what it was made of: a label per file (``pkg.module``,
    ``pkg.__init__``, ``pkg:data/file``; for a wheel, its name and version) and that file's digest."""

    digest: str
    files: dict[str, str] = field(default_factory=dict)


def code_digest(cls: type, distribution: str | None, cache_dir: Path | None) -> str:
    """The digest of the code that ``cls`` can run (see the module docstring)."""
    return code_state(cls, distribution, cache_dir).digest


def code_state(cls: type, distribution: str | None, cache_dir: Path | None) -> CodeState:
    """:func:`code_digest` with the files it covers (so that a changed key can name them)."""
    top = cls.__module__.split(".")[0]
    dist = _distribution(distribution)
    if dist is not None and not _editable(dist):
        record = dist.read_text("RECORD")
        if record:
            name = dist.metadata["Name"] or ""
            libraries = required_versions(dist)
            pins = (f"{label}={version}" for label, version in sorted(libraries.items()))
            return CodeState(text_digest("wheel", name, dist.version, record, *pins),
                             {f"{name} {dist.version} (wheel)": text_digest(record), **libraries})
    memo_file = cache_dir / "code-digests-v2.json" if cache_dir else None
    _load_memo(memo_file)
    roots = {name: _places(name) for name in (top, *(p for p in SHARED if top != p.split(".")[0]))}
    closure = ModuleClosure({name: places for name, places in roots.items() if places}, _facts)
    own = closure.file_of(cls.__module__)
    if own is None or not _defined_in(cls, own):
        digest, parts = live_digest(cls)  # no source file (a notebook cell), or not its module's (exec)
        return CodeState(digest, parts)
    closure.add(cls.__module__)
    files = {**closure.files, **_data_files(top, roots.get(top, []))}
    digests = {name: _entry(files[name])[2] for name in sorted(files)}
    tops = {name.split(".")[0] for name in roots}
    digests.update(library_versions(imported_tops(_facts(p) for p in closure.files.values()) - {top}, tops))
    if memo_file is not None and any(_LOADED[memo_file].get(str(p)) != _MEMO[str(p)] for p in files.values()):
        with suppress(OSError):  # a read-only cache only costs the next run a re-hash
            atomic_write_json(memo_file, {p: list(v) for p, v in _MEMO.items()})
            _LOADED[memo_file] = dict(_MEMO)
    return CodeState(text_digest("source", top, *(x for item in digests.items() for x in item)), digests)


def _defined_in(cls: type, path: Path) -> bool:
    """Whether ``cls``'s methods were compiled from ``path`` (not ``exec``'d into its module)."""
    for value in vars(cls).values():
        code = getattr(getattr(value, "__func__", value), "__code__", None)
        if code is not None:
            with suppress(OSError, ValueError):
                return Path(code.co_filename).resolve() == path.resolve()
            return False
    return True  # no method to tell by: the module's file


def _places(package: str) -> list[Path]:
    """The folders of an imported package, or the file of a single-file module (none if not loaded)."""
    module = sys.modules.get(package)
    if module is None and package in SHARED:  # where it lies, without importing it
        with suppress(ImportError, ValueError):
            module = importlib.util.find_spec(package)
    paths = getattr(module, "__path__", None) or getattr(module, "submodule_search_locations", None)
    if paths:
        return [Path(p).resolve() for p in paths]
    file = getattr(module, "__file__", None) or getattr(module, "origin", None)
    return [Path(file).resolve()] if file and file.endswith(".py") else []


def _data_files(top: str, places: list[Path]) -> dict[str, Path]:
    """The files a package ships besides its code (stopword lists, vocabularies), by ``top:path``."""
    out = {}
    for place in places:
        if place.is_dir():
            for path in sorted(place.rglob("*")):
                rel = path.relative_to(place)
                if (path.is_file() and path.suffix not in (".py", ".pyc", ".pyo") and not path.name.endswith("~")
                        and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts)):
                    out[f"{top}:{rel.as_posix()}"] = path
    return out


def _entry(path: Path) -> tuple[int, int, str, Facts]:
    """``path``'s (size, mtime_ns, digest, facts), read only when its size or mtime changed."""
    stat = path.stat()
    cached = _MEMO.get(str(path))
    if not (cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns):
        facts = file_facts(path.read_text(encoding="utf-8", errors="replace")) if path.suffix == ".py" else {}
        cached = _MEMO[str(path)] = (stat.st_size, stat.st_mtime_ns, file_digest(path), facts)
    return cached


def _facts(path: Path) -> Facts:
    return _entry(path)[3]


def _distribution(name: str | None) -> Any:
    if not name:
        return None
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _editable(dist: Any) -> bool:
    """Whether a distribution is an editable or local-folder install (its files may change)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return True
    return bool(info.get("dir_info", {}).get("editable")) or str(info.get("url", "")).startswith("file:")


def _load_memo(memo_file: Path | None) -> None:
    if memo_file is None or memo_file in _LOADED:
        return
    held: dict[str, tuple[int, int, str, Facts]] = {}
    with suppress(OSError, ValueError, TypeError):
        for path, entry in json.loads(memo_file.read_text(encoding="utf-8")).items():
            if len(entry) != 4 or not isinstance(entry[3], dict):  # an older memo: hashed again
                continue
            size, mtime, digest, facts = entry
            held[path] = (int(size), int(mtime), str(digest), facts)
            _MEMO.setdefault(path, held[path])
    _LOADED[memo_file] = held
