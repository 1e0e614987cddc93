"""An on-disk embedding cache: one SQLite file per encoder, rows keyed by the text's hash."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rankfw.core import text_digest


class EmbeddingCache:
    """Float32 vectors of texts, keyed by ``text_digest(text)``, for one encoder (``key``).

    Writes are SQLite transactions, so an interrupted stage never leaves a half-written row.
    """

    def __init__(self, cache_dir: Path, key: str) -> None:
        folder = Path(cache_dir) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{key[:40]}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (h TEXT PRIMARY KEY, v BLOB)")
        self._db.commit()

    @staticmethod
    def hash(text: str) -> str:
        """The key of ``text``."""
        return text_digest(text)

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for h, blob in self._db.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", chunk):
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``hashes[i]``."""
        rows = [(h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()
