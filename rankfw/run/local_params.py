"""The content of local files and folders that a stage's params name (a model folder given by
path, a Lucene index, a training file), for its cache key: replacing a model in place recomputes
the stages that read it, as replacing a corpus does. Hub ids, ``bundled:`` and ``stage:``
references name no local path (a ``stage:`` model is keyed by its stage's key instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankfw.core.io import cached_file_digest

_MAX_PATH = 4096


def local_param_digests(params: Any, cache_dir: Path, memo: dict[str, str] | None = None) -> dict[str, str]:
    """``param NAME -> digest`` of each string param (nested ones as ``NAME.KEY`` / ``NAME.0``)
    that names an existing file (its SHA-256) or folder (every file's relative path and SHA-256;
    see :func:`_names_a_folder`);
    ``memo`` keeps digests across the stages of one run. Digests are remembered in ``cache_dir``
    by path, size, mtime and inode, so a large model is read once."""
    memo = {} if memo is None else memo
    out: dict[str, str] = {}
    for name, value in _strings(params, ""):
        path = Path(value).expanduser()
        try:
            if not (path.is_file() or (path.is_dir() and _names_a_folder(value, path))):
                continue
            key = str(path.resolve())
            if key not in memo:
                from rankfw.models.identity import model_identity  # only when a param names a path

                memo[key] = model_identity(str(path), cache_dir) if path.is_dir() else cached_file_digest(path, cache_dir)
        except OSError:  # unreadable: the component says so when it opens it
            continue
        out[f"param {name}"] = memo[key]
    return out


def _names_a_folder(value: str, path: Path) -> bool:
    """A folder written as a path (``runs/x``, ``./m``, ``~/m``) or holding a model; a bare word that
    happens to be a folder of the working directory (``language: en`` run from the data folder) is not."""
    from rankfw.models.refs import is_model_folder

    return "/" in value or os.sep in value or value.startswith(("~", ".")) or is_model_folder(path)


def _strings(value: Any, name: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if value and len(value) <= _MAX_PATH and "\0" not in value:
            yield name, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _strings(item, f"{name}.{i}")
