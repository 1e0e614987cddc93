"""Where a run's outputs live inside its output folder.

Output folder layout::

    OUT/spec.yaml                      the spec as run (after --set overrides; data paths absolute)
    OUT/stages/NAME/LANG.run           a run stage's TREC run, one per language
    OUT/stages/NAME/model/             a train stage's model (models/LANG/ when per_language)
    OUT/stages/NAME/done/UNIT.key      the done record of each finished unit (JSON: key, output)
    OUT/stages/NAME/manifest.json      what produced the stage: component, version, params, timings
    OUT/metrics.json                   every measure per stage, language and mean; per-query values
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rankfw.core.errors import InputError

MODEL_UNIT = "model"
"""The unit name of a train stage that trains one model over all its languages."""


@dataclass(frozen=True)
class Layout:
    """Paths of one output folder."""

    out: Path

    @property
    def spec(self) -> Path:
        return self.out / "spec.yaml"

    @property
    def metrics(self) -> Path:
        return self.out / "metrics.json"

    def stage_dir(self, stage: str) -> Path:
        return self.out / "stages" / stage

    def run_path(self, stage: str, language: str) -> Path:
        return self.stage_dir(stage) / f"{language}.run"

    def model_path(self, stage: str, language: str | None, per_language: bool) -> Path:
        """A train stage's model folder (per language when it trains per language)."""
        if per_language:
            if language is None or language == MODEL_UNIT:
                raise InputError(f"stage {stage!r} trains one model per language; use it from a per-language stage",
                                 f"stages.{stage}")
            return self.stage_dir(stage) / "models" / language
        return self.stage_dir(stage) / "model"

    def done_path(self, stage: str, unit: str) -> Path:
        return self.stage_dir(stage) / "done" / f"{unit}.key"

    def manifest(self, stage: str) -> Path:
        return self.stage_dir(stage) / "manifest.json"

    def work_dir(self, stage: str) -> Path:
        return self.stage_dir(stage) / "work"
