"""A digest of a component's code, so that editing a plugin recomputes what it made.

- an editable or local install (or a plugin that is no distribution at all): the source files
  (``*.py``) of the module tree of the top-level package that defines the class, each file's hash
  remembered by (size, mtime_ns) in the cache so that a second digest reads no file;
- an installed wheel: the distribution's name and version plus its ``RECORD`` (the hash of every
  installed file).

A plugin whose sources import one of :data:`SHARED` (rankfw's model helpers: ONNX export and
quantization, model references, training helpers) has that package's source in its digest too, so
that editing, say, the int8 scheme recomputes the runs it made. ``rankfw.core`` is the plugin API
and is not hashed into plugins' digests (its contract changes with rankfw's version).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import Any

from rankfw.core.io import atomic_write_json, file_digest, text_digest

SHARED = ("rankfw.models",)
"""rankfw packages that do part of a plugin's work: a plugin importing one depends on its code."""

_IMPORT = re.compile(r"^\s*(?:from|import)\s+(" + "|".join(re.escape(p) for p in SHARED) + r")\b", re.MULTILINE)
_MEMO: dict[str, tuple[int, int, str, str]] = {}
"""source file -> (size, mtime_ns, digest, the SHARED packages it imports, comma-separated)"""
_LOADED: dict[Path, dict[str, tuple[int, int, str, str]]] = {}
"""memo file -> what it held when read (or last written)"""


def code_digest(cls: type, distribution: str | None, cache_dir: Path | None) -> str:
    """The digest of the code that defines ``cls`` (see the module docstring)."""
    top = cls.__module__.split(".")[0]
    dist = _distribution(distribution)
    if dist is not None and not _editable(dist):
        record = dist.read_text("RECORD")
        if record:
            return text_digest("wheel", dist.metadata["Name"] or "", dist.version, record)
    module = sys.modules.get(top)
    files = _source_files(module) if module is not None else []
    if not files:
        return text_digest("unknown", top)
    memo_file = cache_dir / "code-digests.json" if cache_dir else None
    _load_memo(memo_file)
    parts = _tree_parts(files)
    uses = sorted({p for f in files for p in _MEMO[str(f)][3].split(",") if p} - {top})
    for package in uses if top != "rankfw" else ():
        shared = _source_files(importlib.import_module(package))
        parts += [package, *_tree_parts(shared)]
        files = files + shared
    if memo_file is not None and any(_LOADED[memo_file].get(str(p)) != _MEMO[str(p)] for p in files):
        with suppress(OSError):  # a read-only cache only costs the next run a re-hash
            atomic_write_json(memo_file, {p: list(v) for p, v in _MEMO.items()})
            _LOADED[memo_file] = dict(_MEMO)
    return text_digest("source", top, *parts)


def _tree_parts(files: list[Path]) -> list[str]:
    """``[relative path, digest, ...]`` of ``files`` (hashes remembered by size and mtime)."""
    root = files[0].parent if len(files) == 1 else Path(os.path.commonpath([str(f) for f in files]))
    parts = []
    for path in files:
        stat = path.stat()
        cached = _MEMO.get(str(path))
        if not (cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns):
            uses = ",".join(sorted(set(_IMPORT.findall(path.read_text(encoding="utf-8", errors="replace")))))
            cached = _MEMO[str(path)] = (stat.st_size, stat.st_mtime_ns, file_digest(path), uses)
        parts += [str(path.relative_to(root)), cached[2]]
    return parts


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


def _source_files(module: Any) -> list[Path]:
    paths = getattr(module, "__path__", None)
    if paths:
        files = [p for folder in paths for p in Path(folder).rglob("*.py") if "__pycache__" not in p.parts]
        return sorted({p.resolve() for p in files})
    file = getattr(module, "__file__", None)
    return [Path(file).resolve()] if file and file.endswith(".py") else []


def _load_memo(memo_file: Path | None) -> None:
    if memo_file is None or memo_file in _LOADED:
        return
    held: dict[str, tuple[int, int, str, str]] = {}
    with suppress(OSError, ValueError, TypeError):
        for path, entry in json.loads(memo_file.read_text(encoding="utf-8")).items():
            if len(entry) != 4:  # an older memo without the imports: hashed again
                continue
            size, mtime, digest, uses = entry
            held[path] = (int(size), int(mtime), str(digest), str(uses))
            _MEMO.setdefault(path, held[path])
    _LOADED[memo_file] = held
