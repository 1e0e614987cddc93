"""An on-disk embedding cache: one SQLite file per encoder, rows keyed by the text's hash."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rankfw.core import KeyValueStore, text_digest


class EmbeddingCache:
    """Float32 vectors of texts, keyed by ``text_digest(text)``, for one encoder (``key``).

    A :class:`rankfw.core.KeyValueStore`: writes are SQLite transactions, so an interrupted stage
    never leaves a half-written row; a damaged file is dropped with one log line and filled again.
    """

    def __init__(self, cache_dir: Path, key: str) -> None:
        folder = Path(cache_dir) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{key[:40]}.sqlite"
        self._store = KeyValueStore(self.path, "BLOB")

    @staticmethod
    def hash(text: str) -> str:
        """The key of ``text``."""
        return text_digest(text)

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``."""
        return {
            h: np.frombuffer(blob, dtype=np.float32)
            for h, blob in self._store.get_many(hashes).items()
            if isinstance(blob, bytes) and blob and len(blob) % 4 == 0  # a damaged row is computed again
        }

    def put_many(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under ``hashes[i]``."""
        rows = [(h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)]
        self._store.put_many(rows)

    def close(self) -> None:
        """Close the database."""
        self._store.close()
