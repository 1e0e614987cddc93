"""Expected scores as regression checks (pyserini 2CR style): ``rankfw check OUT_DIR EXPECTED``.

An expected-scores file (``examples/NAME.expected``) is a TSV with the header
``stage  language  measure  expected  tolerance``: one line per score a run must reproduce
(``language`` is an ISO code or ``mean``); blank lines and lines starting with ``#`` are ignored.
A score holds when ``|actual - expected| <= tolerance``; a score missing from the run's
``metrics.json`` does not hold. :func:`write_expected` (``rankfw check OUT_DIR EXPECTED --write``)
writes such a file from a finished run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError

HEADER = ("stage", "language", "measure", "expected", "tolerance")


@dataclass(frozen=True)
class Expected:
    """One score a run must reproduce, and where the expectation was written."""

    stage: str
    language: str
    measure: str
    expected: float
    tolerance: float
    where: str

    @property
    def name(self) -> str:
        """``stage/language/measure``."""
        return f"{self.stage}/{self.language}/{self.measure}"


@dataclass(frozen=True)
class Outcome:
    """An expectation checked against a run: the actual score (``None`` when the run lacks it)."""

    spec: Expected
    actual: float | None

    @property
    def holds(self) -> bool:
        """Whether the actual score is within the tolerance of the expected one."""
        return self.actual is not None and abs(self.actual - self.spec.expected) <= self.spec.tolerance + 1e-12

    def describe(self) -> str:
        """One line: the name, expected +- tolerance, and what the run has."""
        s = self.spec
        got = "missing from the run" if self.actual is None else f"got {self.actual:.4f} ({self.actual - s.expected:+.4f})"
        return f"{s.name}: expected {s.expected:.4f} +- {s.tolerance:g}, {got}"


def _number(text: str, field: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{field} {text!r} is not a number", where) from None
    if not math.isfinite(value) or (field == "tolerance" and value < 0):
        raise InputError(f"{field} {text!r} must be a finite{' non-negative' if field == 'tolerance' else ''} number",
                         where)
    return value


def read_expected(path: Path) -> list[Expected]:
    """The expectations of a ``.expected`` file; bad lines raise an :class:`InputError` naming file:line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the expected scores: {error}", str(path)) from None
    rows: list[Expected] = []
    header_seen, seen = False, set()
    for number, line in enumerate(lines, 1):
        where = f"{path}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if not header_seen:
            if tuple(c.lower() for c in cells) != HEADER:
                raise InputError(f"the first line must be the tab-separated header {' '.join(HEADER)}", where)
            header_seen = True
            continue
        if len(cells) != len(HEADER) or not all(cells[:3]):
            raise InputError(f"expected {len(HEADER)} tab-separated fields ({', '.join(HEADER)}), got {len(cells)}",
                             where)
        row = Expected(cells[0], cells[1], cells[2], _number(cells[3], "expected", where),
                       _number(cells[4], "tolerance", where), where)
        if row.name in seen:
            raise InputError(f"{row.name} is listed twice", where)
        seen.add(row.name)
        rows.append(row)
    if not rows:
        raise InputError("no expected scores (a header line and at least one score line are needed)", str(path))
    return rows


def read_metrics(out_dir: Path) -> dict[str, Any]:
    """``OUT_DIR/metrics.json`` (written by ``rankfw run``)."""
    path = Path(out_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no metrics.json: is this the output folder of a finished `rankfw run`?", str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read the metrics: {error}", str(path)) from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("stages"), dict):
        raise InputError("not a rankfw metrics file (no 'stages' table)", str(path))
    return metrics


def actual_score(metrics: dict[str, Any], spec: Expected) -> float | None:
    """The run's score for ``spec`` (``None`` when the stage, language or measure is absent)."""
    stage = metrics["stages"].get(spec.stage)
    if not isinstance(stage, dict):
        return None
    table = stage.get("mean") if spec.language == "mean" else (stage.get("languages") or {}).get(spec.language)
    value = table.get(spec.measure) if isinstance(table, dict) else None
    return float(value) if isinstance(value, int | float) else None


def check(out_dir: Path, expected: Path) -> list[Outcome]:
    """Every expectation of ``expected`` checked against the run in ``out_dir``."""
    specs = read_expected(expected)
    metrics = read_metrics(out_dir)
    return [Outcome(spec, actual_score(metrics, spec)) for spec in specs]


def write_expected(out_dir: Path, expected: Path, tolerance: float = 0.001,
                   stages: tuple[str, ...] = ()) -> int:
    """Write ``expected`` from the run in ``out_dir`` (every stage, language and measure, or only
    ``stages``), each score rounded to 4 decimals with ``tolerance``; the number of lines written."""
    from rankfw.core.io import atomic_write_text

    if not math.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"the tolerance must be a finite non-negative number, got {tolerance}", "--tolerance")
    metrics = read_metrics(out_dir)
    unknown = [s for s in stages if s not in metrics["stages"]]
    if unknown:
        raise InputError(f"no evaluated stage {', '.join(unknown)} in this run (it has: "
                         f"{', '.join(metrics['stages']) or 'none'})", str(Path(out_dir) / "metrics.json"))
    lines = [f"# Expected scores of the run in {out_dir}, written by `rankfw check --write`",
             "\t".join(HEADER)]
    for stage, table in metrics["stages"].items():
        if stages and stage not in stages:
            continue
        rows = sorted((table.get("languages") or {}).items()) + [("mean", table.get("mean") or {})]
        for language, values in rows:
            for measure, value in (values or {}).items():
                if isinstance(value, int | float):
                    lines.append(f"{stage}\t{language}\t{measure}\t{value:.4f}\t{tolerance:g}")
    if len(lines) == 2:
        raise InputError("the run has no evaluated scores to write", str(Path(out_dir) / "metrics.json"))
    atomic_write_text(Path(expected), "\n".join(lines) + "\n")
    return len(lines) - 2
