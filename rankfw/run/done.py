"""Done records: a finished unit's key bound to the content of what it wrote.

``OUT/stages/NAME/done/UNIT.key`` is JSON: the unit's key and its parts (see
:mod:`rankfw.run.keys`), the signature of its output (a run file's size and SHA-256; a model
folder's digest over its files' relative paths and sizes), the digest of the output's content
(what the units reading it put in their keys: a model folder's over its files' bytes), and the
seconds it took. It is written atomically after the output is in place; a unit is reused only
when the record's key equals the current key *and* the output on disk still has the recorded
signature. So a run killed between replacing an output and writing its record, or an output
truncated or edited afterwards, is recomputed (with one line saying why), never trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankfw.core.io import atomic_write_json, file_digest
from rankfw.models.identity import model_identity
from rankfw.run.keys import UnitKey, changed_parts, waits_only


@dataclass(frozen=True)
class DoneCheck:
    """Whether a unit can be reused, why not, and the last record's seconds (for estimates)."""

    reusable: bool
    reason: str
    seconds: float | None = None
    damaged: bool = False
    """The key matches but the output on disk is not what was recorded (missing, edited, cut)."""
    content: str | None = None
    """The recorded digest of the output's content, when the unit is reusable."""
    waiting: bool = False
    """The key differs only by inputs still to compute: recomputed only if one comes out different."""


_HASHED: dict[tuple[str, int, int, int, int, int], str] = {}
"""SHA-256 of the large files hashed in this process, by path and stat (size, mtime, inode,
device, ctime: a file replaced or edited in place changes one of them), so that checking the
inputs of every reader of a large run hashes it once; small files are always hashed anew."""
_MEMO_FROM = 1 << 20


def _file_sha256(path: Path) -> str:
    st = path.stat()
    if st.st_size < _MEMO_FROM:
        return file_digest(path)
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns)
    if memo not in _HASHED:
        _HASHED[memo] = file_digest(path)
    return _HASHED[memo]


def output_signature(path: Path) -> dict[str, Any] | None:
    """The signature of a unit's output: a file's size and SHA-256, a folder's file list + sizes."""
    if path.is_file():
        return {"type": "file", "size": path.stat().st_size, "sha256": _file_sha256(path)}
    if path.is_dir():
        h = hashlib.sha256()
        count = 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{file.relative_to(path).as_posix()}\0{file.stat().st_size}\n".encode())
            count += 1
        return {"type": "dir", "files": count, "sha256": h.hexdigest()}
    return None


def content_digest(path: Path) -> str:
    """SHA-256 of an output's content: a file's bytes; a folder's relative paths and bytes."""
    return _file_sha256(path) if path.is_file() else model_identity(str(path))


def read_record(path: Path) -> dict[str, Any] | None:
    """The done record at ``path`` (None when absent or unreadable: the unit is then recomputed)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("key"), str) else None


def write_record(path: Path, key: UnitKey, output: Path, seconds: float) -> dict[str, Any]:
    """Record ``output`` (already in place) as made with ``key``, in one atomic write; returns the record."""
    signature = output_signature(output)
    record = {
        "key": key.key,
        "parts": key.parts,
        "inputs": key.inputs,
        "data": key.data,
        "code": key.code,
        "output": signature,
        "content": signature["sha256"] if signature and signature["type"] == "file" else content_digest(output),
        "seconds": round(seconds, 3),
    }
    atomic_write_json(path, record)
    return record


def check(path: Path, key: UnitKey, output: Path) -> DoneCheck:
    """Whether the unit recorded at ``path`` is finished with ``key`` and ``output`` is intact."""
    record = read_record(path)
    if record is None:
        legacy = path.is_file()
        return DoneCheck(False, "done record in an older format" if legacy else "not computed yet")
    seconds = record.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) else None
    if record["key"] != key.key:
        if waits_only(record, key):
            return DoneCheck(False, f"{changed_parts(record, key)}: reused if they come out the same", seconds, waiting=True)
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
    content = record.get("content")
    return DoneCheck(True, "unchanged", seconds, content=content if isinstance(content, str) else None)


def finished_content(path: Path, key: UnitKey, output: Path) -> str | None:
    """The content digest of a unit finished with ``key`` (what the units reading it key on), or
    None while it is still to compute."""
    found = check(path, key, output)
    if not found.reusable:
        return None
    return found.content or f"record {key.key}"  # a record written before content digests
