"""An on-disk embedding cache: one SQLite file per encoder, rows keyed by the text's hash."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rankfw.core import cache_log, sqlite_damage, text_digest


class EmbeddingCache:
    """Float32 vectors of texts, keyed by ``text_digest(text)``, for one encoder (``key``).

    Writes are SQLite transactions, so an interrupted stage never leaves a half-written row. A
    damaged file (truncated, overwritten, or one SQLite reports malformed) is dropped with one log
    line and filled again: the cache only ever costs time, never a wrong vector or a failed stage.
    """

    def __init__(self, cache_dir: Path, key: str) -> None:
        folder = Path(cache_dir) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{key[:40]}.sqlite"
        damage = sqlite_damage(self.path) if self.path.exists() else None
        if damage:
            self._discard(damage)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as e:
            self._discard(str(e))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS emb (h TEXT PRIMARY KEY, v BLOB)")
            db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self, reason: str) -> None:
        """Drop a damaged cache file (one log line naming it): its vectors are computed again."""
        cache_log.warning("cache entry %s: %s; starting it afresh", self.path, reason)
        for stale in (self.path, self.path.with_name(self.path.name + "-journal")):
            stale.unlink(missing_ok=True)

    def _reset(self, error: sqlite3.DatabaseError) -> None:
        self._db.close()
        self._discard(f"SQLite: {error}")
        self._db = self._open()

    @staticmethod
    def hash(text: str) -> str:
        """The key of ``text``."""
        return text_digest(text)

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``."""
        found: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(hashes), 500):
                chunk = list(hashes[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for h, blob in self._db.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", chunk):
                    if isinstance(blob, bytes) and len(blob) and len(blob) % 4 == 0:  # else recomputed
                        found[h] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.DatabaseError as e:
            self._reset(e)
            return {}
        return found

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``hashes[i]``."""
        rows = [(h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)]
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)
        except sqlite3.DatabaseError as e:
            self._reset(e)
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()
