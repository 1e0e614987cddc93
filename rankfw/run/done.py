"""Done records: a finished unit's key bound to the content of what it wrote.

``OUT/stages/NAME/done/UNIT.key`` is JSON: the unit's key and its parts (see
:mod:`rankfw.run.keys`), the signature of its output (a run file's size and SHA-256; a model
folder's digest over its files' relative paths and sizes), and the seconds it took. It is written
atomically after the output is in place; a unit is reused only when the record's key equals the
current key *and* the output on disk still has the recorded signature. So a run killed between
replacing an output and writing its record, or an output truncated or edited afterwards, is
recomputed (with one line saying why), never trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankfw.core.io import atomic_write_json, file_digest
from rankfw.run.keys import UnitKey, changed_parts


@dataclass(frozen=True)
class DoneCheck:
    """Whether a unit can be reused, why not, and the last record's seconds (for estimates)."""

    reusable: bool
    reason: str
    seconds: float | None = None
    damaged: bool = False
    """The key matches but the output on disk is not what was recorded (missing, edited, cut)."""


def output_signature(path: Path) -> dict[str, Any] | None:
    """The signature of a unit's output: a file's size and SHA-256, a folder's file list + sizes."""
    if path.is_file():
        return {"type": "file", "size": path.stat().st_size, "sha256": file_digest(path)}
    if path.is_dir():
        h = hashlib.sha256()
        count = 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{file.relative_to(path).as_posix()}\0{file.stat().st_size}\n".encode())
            count += 1
        return {"type": "dir", "files": count, "sha256": h.hexdigest()}
    return None


def read_record(path: Path) -> dict[str, Any] | None:
    """The done record at ``path`` (None when absent or unreadable: the unit is then recomputed)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("key"), str) else None


def write_record(path: Path, key: UnitKey, output: Path, seconds: float) -> None:
    """Record ``output`` (already in place) as made with ``key``, in one atomic write."""
    atomic_write_json(path, {
        "key": key.key,
        "parts": key.parts,
        "inputs": key.inputs,
        "data": key.data,
        "code": key.code,
        "output": output_signature(output),
        "seconds": round(seconds, 3),
    })


def check(path: Path, key: UnitKey, output: Path) -> DoneCheck:
    """Whether the unit recorded at ``path`` is finished with ``key`` and ``output`` is intact."""
    record = read_record(path)
    if record is None:
        legacy = path.is_file()
        return DoneCheck(False, "done record in an older format" if legacy else "not computed yet")
    seconds = record.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) else None
    if record["key"] != key.key:
        return DoneCheck(False, changed_parts(record, key), seconds)
    expected = record.get("output")
    if not isinstance(expected, dict):
        return DoneCheck(False, "done record without an output signature", seconds)
    if expected.get("type") == "file":
        if not output.is_file():
            return DoneCheck(False, f"{output.name} is missing", seconds, damaged=True)
        if output.stat().st_size != expected.get("size"):
            return DoneCheck(False, f"{output.name} changed on disk (size {output.stat().st_size}, recorded "
                                    f"{expected.get('size')})", seconds, damaged=True)
    actual = output_signature(output)
    if actual is None:
        return DoneCheck(False, f"{output.name} is missing", seconds, damaged=True)
    if actual != expected:
        return DoneCheck(False, f"{output.name} changed on disk since it was recorded", seconds, damaged=True)
    return DoneCheck(True, "unchanged", seconds)
