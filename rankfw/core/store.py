"""The one SQLite store of rankfw's caches: a key -> value table in one file, safe to share
between processes, written in transactions (an interrupted write never leaves a half row).

The embedding cache of the bi-encoder plugin and the translation cache of the cross-encoder
plugin are :class:`KeyValueStore` s; the corpus docid index opens its file with :func:`connect`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rankfw.core.io import cache_log, sqlite_damage

CHUNK = 500
"""Keys per ``SELECT ... IN (...)`` (below SQLite's limit on bound parameters)."""


def connect(path: str | Path, timeout: float = 60.0) -> sqlite3.Connection:
    """A connection to the SQLite file ``path`` that other processes may share (waits up to
    ``timeout`` seconds for their locks; usable from any thread of this process)."""
    return sqlite3.connect(path, timeout=timeout, check_same_thread=False)


class KeyValueStore:
    """``key -> value`` rows (``value_type``: ``"BLOB"`` or ``"TEXT"``; a value may be ``None``) in
    the SQLite file ``path``. A file that is not a readable database (truncated, overwritten, or one
    SQLite reports malformed, on open or in use) is rebuilt empty, with one line through ``log``
    (default: the ``rankfw.cache`` logger) naming it: a cache entry is never trusted blindly, and
    a damaged one costs time, never a wrong value or a failed stage.
    """

    def __init__(self, path: str | Path, value_type: str = "BLOB", log: Callable[[str], None] | None = None) -> None:
        if value_type not in ("BLOB", "TEXT"):
            raise ValueError(f"value_type must be BLOB or TEXT, got {value_type!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._value_type = value_type
        self._log = log or (lambda message: cache_log.warning("%s", message))
        damage = sqlite_damage(self.path) if self.path.exists() else None
        if damage:
            self._discard(damage)
        try:
            self._db = self._open(value_type)
        except sqlite3.DatabaseError as e:
            self._discard(str(e))
            self._db = self._open(value_type)

    def _discard(self, reason: str) -> None:
        self._log(f"cache entry {self.path}: {reason}; rebuilt empty")
        for stale in (self.path, self.path.with_name(self.path.name + "-journal")):
            stale.unlink(missing_ok=True)

    def _reset(self, error: sqlite3.DatabaseError) -> None:
        self._db.close()
        self._discard(f"SQLite: {error}")
        self._db = self._open(self._value_type)

    def _open(self, value_type: str) -> sqlite3.Connection:
        db = connect(self.path)
        try:
            db.execute(f"CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v {value_type})")
            db.execute("SELECT count(*) FROM (SELECT 1 FROM kv LIMIT 1)").fetchone()
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values among ``keys`` (a key stored with ``None`` maps to ``None``)."""
        found: dict[str, Any] = {}
        try:
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT k, v FROM kv WHERE k IN ({marks})", chunk))
        except sqlite3.DatabaseError as e:
            self._reset(e)
            return {}
        return found

    def put_many(self, rows: Iterable[tuple[str, Any]]) -> None:
        """Store every ``(key, value)`` in one transaction (a key stored again is replaced)."""
        rows = list(rows)
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", rows)
        except sqlite3.DatabaseError as e:
            self._reset(e)
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", rows)

    def close(self) -> None:
        """Close the file."""
        self._db.close()
