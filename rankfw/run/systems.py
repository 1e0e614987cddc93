"""The systems a comparison looks at: found in output folders (one per stage, in spec order) and
TREC run files (``PATH`` or ``LABEL=PATH``), picked and ordered with ``--systems``, and where each
came from (spec, component, version) for a report's provenance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankfw.core.errors import InputError
from rankfw.core.types import Qrels
from rankfw.data import read_qrels

if TYPE_CHECKING:
    from rankfw.spec import DatasetSpec


@dataclass
class System:
    """One system to compare: its runs per language, and the output folder stage it came from."""

    name: str
    runs: dict[str, Path]
    stage_dir: Path | None = None
    """``OUT/stages/NAME`` when the runs are a stage of a ``rankfw run`` output folder."""
    folder: Path | None = field(default=None, repr=False)
    """The output folder (holding spec.yaml) of ``stage_dir``."""


def parse_source(arg: str | Path) -> tuple[str | None, Path]:
    """``PATH`` or ``LABEL=PATH`` -> (label or None, path); an existing path wins over a split."""
    text = str(arg)
    path = Path(text)
    if path.exists() or "=" not in text:
        if not path.exists():
            raise InputError("no such run file or output folder", text)
        return None, path
    label, rest = text.split("=", 1)
    if not label:
        raise InputError("empty label before '=' (write LABEL=PATH)", text)
    if not Path(rest).exists():
        raise InputError("no such run file or output folder", rest)
    return label, Path(rest)


def systems_from_paths(paths: Sequence[str | Path], language: str | None = None) -> list[System]:
    """Systems from run files and output folders, each optionally ``LABEL=PATH``.

    An output folder gives one system per stage with ``LANG.run`` files, in the order of its
    spec.yaml (named ``FOLDER/STAGE``, or ``LABEL/STAGE``, when several folders are given). A run
    file is one language (``language`` or "all") named by its label or its file's stem; a run
    file inside an output folder (``OUT/stages/STAGE/LANG.run``) is named by its stage and is
    language ``LANG``; files of one stage merge into one system.
    """
    sources = [parse_source(p) for p in paths]
    several = sum(1 for _, p in sources if p.is_dir()) > 1
    systems: list[System] = []
    labelled: set[int] = set()
    for label, path in sources:
        if path.is_dir():
            systems.extend(_folder_systems(path, label, several))
        else:
            systems.append(_file_system(path, label, language))
            if label:
                labelled.add(id(systems[-1]))
    systems = _merge_stage_files(systems)
    _rename_clashing_files(systems, labelled)
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise InputError(f"two systems share a name: {names}; label them: LABEL=PATH", "compare")
    return systems


def _folder_systems(path: Path, label: str | None, several: bool) -> list[System]:
    stages_dir = path / "stages"
    stages = sorted(stages_dir.glob("*/")) if stages_dir.is_dir() else []
    order = {name: i for i, name in enumerate(spec_stage_order(path))}
    stages.sort(key=lambda s: (order.get(s.name, len(order)), s.name))
    found = [s for s in stages if list(s.glob("*.run")) and _on_evaluation_topics(s)]
    if not found:
        raise InputError("no run files found (expected an output folder of 'rankfw run')", str(path))
    prefix = label if label is not None else (path.name if several else None)
    return [
        System(f"{prefix}/{stage.name}" if prefix else stage.name, {r.stem: r for r in sorted(stage.glob("*.run"))},
               stage, path)
        for stage in found
    ]


def _file_system(path: Path, label: str | None, language: str | None) -> System:
    stage = path.parent
    folder = stage.parent.parent
    if stage.parent.name == "stages" and (folder / "spec.yaml").is_file():
        return System(label or stage.name, {language or path.stem: path}, stage, folder)
    return System(label or path.stem, {language or "all": path})


def _merge_stage_files(systems: list[System]) -> list[System]:
    """Run files of one stage (one per language) become one system."""
    out: list[System] = []
    for system in systems:
        same = next((s for s in out if s.name == system.name and s.stage_dir is not None
                     and s.stage_dir == system.stage_dir and not set(s.runs) & set(system.runs)), None)
        if same is not None:
            same.runs.update(system.runs)
        else:
            out.append(system)
    return out


def _rename_clashing_files(systems: list[System], labelled: set[int]) -> None:
    """Plain run files that share a stem (``a/en.run``, ``b/en.run``) are named by their folder."""
    names = [s.name for s in systems]
    for system in systems:
        if names.count(system.name) > 1 and system.stage_dir is None and id(system) not in labelled:
            path = next(iter(system.runs.values()))
            system.name = f"{path.parent.name}/{path.stem}" if path.parent.name else system.name


def select_systems(systems: list[System], wanted: Sequence[str]) -> list[System]:
    """The systems named in ``wanted``, in that order (``--systems a,b,c``)."""
    by_name = {s.name: s for s in systems}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise InputError(f"unknown system {unknown[0]!r} (systems: {', '.join(by_name)})", "--systems")
    if len(set(wanted)) != len(wanted):
        raise InputError(f"a system is named twice: {', '.join(wanted)}", "--systems")
    return [by_name[w] for w in wanted]


def languages_in_order(systems: Sequence[System]) -> list[str]:
    """Every language of ``systems``: in the order of the first output folder's spec, then sorted."""
    found = {lang for s in systems for lang in s.runs}
    folder = next((s.folder for s in systems if s.folder is not None), None)
    data = _read_spec(folder) if folder is not None else None
    listed = data.get("dataset", {}).get("languages", []) if isinstance(data, dict) else []
    first = [lang for lang in listed if lang in found] if isinstance(listed, list) else []
    return [*first, *sorted(found - set(first))]


def spec_stage_order(folder: Path) -> list[str]:
    """The stage names of an output folder's spec.yaml, in the order they are written."""
    data = _read_spec(folder)
    stages = data.get("stages") if isinstance(data, dict) else None
    return list(stages) if isinstance(stages, dict) else []


def _read_spec(folder: Path) -> Any:
    import yaml

    spec_file = folder / "spec.yaml"
    if not spec_file.is_file():
        return None
    try:
        return yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def folder_dataset(folder: Path, missing: str) -> DatasetSpec:
    """The ``dataset`` section of an output folder's ``spec.yaml``, validated. No readable spec
    with a dataset is ``InputError(missing)`` naming that ``spec.yaml``; an invalid dataset
    section is one ``InputError`` naming the key and the file's line."""
    from pydantic import ValidationError

    from rankfw.spec import DatasetSpec
    from rankfw.spec.locate import SpecErrors
    from rankfw.spec.yamlio import load_yaml

    data = _read_spec(folder)
    if not isinstance(data, dict) or "dataset" not in data:
        raise InputError(missing, str(folder / "spec.yaml"))
    try:
        return DatasetSpec.model_validate(data["dataset"])
    except ValidationError as e:
        spec_file = folder / "spec.yaml"
        _, lines = load_yaml(spec_file.read_text(encoding="utf-8"), str(spec_file))
        raise SpecErrors(str(spec_file), lines, set()).from_validation(e, ("dataset",)) from None


def _read_manifest(stage_dir: Path) -> dict[str, Any]:
    manifest = stage_dir / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _on_evaluation_topics(stage_dir: Path) -> bool:
    """False for a stage run on the training or held-out questions (its manifest says so): the
    evaluation qrels do not judge those."""
    return _read_manifest(stage_dir).get("spec", {}).get("topics", "eval") == "eval"


def qrels_from_output(folder: Path, languages: Sequence[str]) -> dict[str, Qrels]:
    """The qrels of each language, read from the spec an output folder was made with."""
    spec_file = folder / "spec.yaml"
    dataset = folder_dataset(folder, "no spec.yaml: pass --qrels")
    out = {}
    for lang in languages:
        source = dataset.source("qrels", lang)
        if source is None:
            raise InputError("the spec has no qrels: pass --qrels", str(spec_file))
        out[lang] = read_qrels(source)
    return out


def provenance(systems: Sequence[System]) -> dict[str, Any]:
    """Where each system came from: its spec (name, file, text), component, distribution and
    version, parameters and when it finished (from the stage's manifest.json); plus the date
    and the versions of rankfw and ir_measures that made the comparison."""
    from importlib.metadata import PackageNotFoundError, version

    from rankfw import __version__

    try:
        ir_measures_version = version("ir_measures")
    except PackageNotFoundError:  # pragma: no cover - a dependency of rankfw
        ir_measures_version = "?"
    specs: dict[str, dict[str, Any]] = {}
    out_systems: dict[str, dict[str, Any]] = {}
    for system in systems:
        entry: dict[str, Any] = {"runs": {lang: str(p) for lang, p in system.runs.items()}}
        if system.stage_dir is not None and system.folder is not None:
            spec_file = system.folder / "spec.yaml"
            if str(spec_file) not in specs and spec_file.is_file():
                data = _read_spec(system.folder)
                specs[str(spec_file)] = {
                    "name": data.get("name", "") if isinstance(data, dict) else "",
                    "text": spec_file.read_text(encoding="utf-8"),
                }
            manifest = _read_manifest(system.stage_dir)
            entry.update({"spec": str(spec_file), "stage": system.stage_dir.name})
            for key in ("kind", "component", "distribution", "version", "config", "finished"):
                if key in manifest:
                    entry[key] = manifest[key]
        out_systems[system.name] = entry
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rankfw": __version__,
        "ir_measures": ir_measures_version,
        "specs": specs,
        "systems": out_systems,
    }
