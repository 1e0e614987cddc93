"""The ``weights.json`` that the ``fusion-weights`` trainer writes and the ``weighted`` fuser reads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankfw.core import InputError, atomic_write_json

FILE_NAME = "weights.json"


@dataclass
class TunedWeights:
    """Weights chosen on held-out queries, with how they were chosen.

    ``weights`` are for the runs named in ``runs`` (in that order); ``per_language`` maps a
    language to its own ``{"weights": [...], "score": float}`` when tuned per language;
    ``excluded`` maps a run kept at weight 0 by ``must_beat`` to the languages where it was not
    above that run (``[its score, the must_beat run's]``).
    """

    weights: list[float]
    runs: list[str]
    measure: str
    score: float
    grid_size: int
    step: float
    norm: str
    depth: int | None = None
    per_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores_by_language: dict[str, float] = field(default_factory=dict)
    must_beat: str | None = None
    excluded: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def for_language(self, language: str | None) -> list[float]:
        """The weights for ``language`` (its own when tuned per language, else the shared ones)."""
        if language is not None and language in self.per_language:
            return list(self.per_language[language]["weights"])
        return list(self.weights)

    def score_for(self, language: str | None) -> float:
        """The tuned score of the weights :meth:`for_language` returns."""
        if language is not None and language in self.per_language:
            return float(self.per_language[language]["score"])
        return self.score

    def write(self, folder: Path) -> Path:
        """Write ``folder/weights.json`` atomically; return its path."""
        path = Path(folder) / FILE_NAME
        atomic_write_json(path, asdict(self))
        return path


def read_weights(source: str | Path, where: str = "weights") -> TunedWeights:
    """Read tuned weights from a trainer's output folder (or a ``weights.json`` path)."""
    path = Path(source)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise InputError(f"no {FILE_NAME} at {path} (is it the output of a fusion-weights stage?)", where)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TunedWeights(**data)
    except (json.JSONDecodeError, TypeError) as e:
        raise InputError(f"malformed weights file: {e}", str(path)) from None
