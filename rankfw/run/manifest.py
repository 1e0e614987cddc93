"""A stage's ``manifest.json``: what produced its outputs (component, distribution and version,
spec, resolved config, model references, inputs, unit keys, code digest, timings, selection)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rankfw.run.heldout import selections
from rankfw.run.keys import UnitKey
from rankfw.spec import STAGE_REF, Stage


def stage_manifest(stage: Stage, keys: Mapping[str, UnitKey], outputs: Iterable[Path],
                   timings: dict[str, float]) -> dict[str, Any]:
    """The manifest of ``stage`` whose units have ``keys`` and write ``outputs``; ``timings`` are
    the seconds of the units computed now."""
    info = stage.component
    manifest: dict[str, Any] = {
        "stage": stage.name,
        "kind": stage.spec.kind,
        "component": info.name,
        "distribution": info.distribution,
        "version": info.version,
        "spec": stage.spec.model_dump(mode="json", exclude_defaults=True),
        "config": stage.config.model_dump(mode="json"),
        "model_references": {p: f"{STAGE_REF}{d}" for p, d in stage.model_refs.items()}
        | {p: v for p, v in stage.spec.params.items() if p in ("model", "teacher", "student") and isinstance(v, str)},
        "inputs": {dep: f"../{dep}" for dep in stage.dependencies},
        "keys": {unit: key.key for unit, key in keys.items()},
        "code": next(iter(keys.values())).parts["code"] if keys else None,
        "seconds": timings,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if stage.spec.kind == "train" and (kept := selections(outputs)):
        manifest["selection"] = kept  # which checkpoint a trainer kept, and on what (select_on: heldout)
    return manifest
