"""Held-out numbers beside evaluation numbers (``rankfw compare --heldout``).

An evaluation stage ``X`` of an output folder is paired with its sibling stage ``X_ho`` when that
stage ran on ``topics: heldout`` (the held-out training questions of ``dataset.holdout`` /
``holdout_folds``, judged by their training file's positives and negatives). The pair shows how
much of a stage's evaluation score survives on questions nobody tuned on; a large gap between
the two means is over-fitting to the questions that were looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rankfw.core.runs import Run
from rankfw.core.types import Qrels
from rankfw.models.selection import SELECTION_FILE
from rankfw.run.evaluate import evaluate
from rankfw.run.systems import System, _read_manifest, _read_spec, folder_dataset

HELDOUT_SUFFIX = "_ho"


def heldout_sibling(system: System) -> Path | None:
    """The ``X_ho`` stage folder of system ``X`` when it exists and ran on the held-out topics."""
    if system.stage_dir is None:
        return None
    sibling = system.stage_dir.parent / f"{system.stage_dir.name}{HELDOUT_SUFFIX}"
    if not sibling.is_dir() or _read_manifest(sibling).get("spec", {}).get("topics") != "heldout":
        return None
    return sibling


def heldout_qrels(folder: Path, languages: Sequence[str] | None = None) -> dict[str, Qrels]:
    """The held-out questions' judgements per language (every language of the spec unless told),
    from the folder's spec (as the run made them); a folder without a readable spec is an InputError."""
    from rankfw.core.io import default_cache_dir
    from rankfw.data.language import LanguageData

    dataset = folder_dataset(folder, "not found or not a spec: give the output folder of a finished run")
    data = _read_spec(folder)
    languages = dataset.languages if languages is None else languages
    cache = Path(data.get("cache") or default_cache_dir())
    return {lang: LanguageData.from_spec(dataset, lang, cache).topic_set("heldout")[1] for lang in languages}


def heldout_values(systems: Sequence[System], measures: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``system -> language (and "mean") -> measure -> value`` on the held-out questions, for every
    system that has an ``X_ho`` sibling (the others are left out)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    qrels_cache: dict[Path, dict[str, Qrels]] = {}
    for system in systems:
        sibling = heldout_sibling(system)
        if sibling is None or system.folder is None:
            continue
        runs = {p.stem: p for p in sorted(sibling.glob("*.run"))}
        if not runs:
            continue
        if system.folder not in qrels_cache:
            qrels_cache[system.folder] = {}
        known = qrels_cache[system.folder]
        missing = [lang for lang in runs if lang not in known]
        if missing:
            known.update(heldout_qrels(system.folder, missing))
        # every held-out question counts, one the run has no hits for as 0 (not left out of the mean)
        values = {lang: evaluate(Run.read_trec(path), known[lang], measures, known[lang]) for lang, path in runs.items()}
        values["mean"] = {m: sum(v[m] for v in values.values()) / len(values) for m in measures}
        out[system.name] = values
    return out


def selections(model_folders: Iterable[Path]) -> dict[str, Any]:
    """What ``select_on: heldout`` kept in each model folder (its ``selection.json`` without the
    question ids), by folder name; folders without one are left out."""
    out: dict[str, Any] = {}
    for folder in model_folders:
        record = folder / SELECTION_FILE
        if record.is_file():
            out[folder.name] = {k: v for k, v in json.loads(record.read_text(encoding="utf-8")).items() if k != "qids"}
    return out
