"""The copy of the spec kept in an output folder, with data paths made absolute, so that the folder
can be evaluated and compared from any working directory and after being moved."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from rankfw.data import is_irds
from rankfw.spec import DatasetSpec

PATH_FIELDS = ("corpus", "topics", "qrels", "train", "parallel")


def portable_spec(raw: dict[str, Any], dataset: DatasetSpec) -> str:
    """``raw`` (the spec as run) as YAML, with ``dataset.root``, the dataset's relative path
    templates and ``cache`` resolved against the working directory the run used."""
    out = copy.deepcopy(raw)
    section = out.get("dataset")
    if isinstance(section, dict):
        section["root"] = _absolute(dataset.root)
        for name in PATH_FIELDS:
            value = section.get(name)
            if isinstance(value, dict):
                section[name] = {k: _template(v) for k, v in value.items()}
            elif value is not None:
                section[name] = _template(value)
    if isinstance(out.get("cache"), str):
        out["cache"] = _absolute(out["cache"])
    return yaml.safe_dump(out, sort_keys=False, allow_unicode=True)


def _template(value: Any) -> Any:
    if not isinstance(value, str) or value.startswith("{root}") or is_irds(value) or Path(value).is_absolute():
        return value
    return _absolute(value)


def _absolute(path: str) -> str:
    return str(Path.cwd() / Path(path).expanduser()) if not Path(path).expanduser().is_absolute() else str(Path(path).expanduser())
