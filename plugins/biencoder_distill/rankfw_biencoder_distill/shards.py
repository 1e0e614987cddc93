"""Corpus embeddings on disk: fixed-size shards of float16 vectors, memory-mapped, written resumably.

A shard folder (``cache_dir/dense-shards/<key>``, keyed by the encoder's digest, the passage prefix
and the corpus fingerprint) holds ``shard-NNNNN.npy`` (the vectors of rows ``N*size`` ..) and
``shard-NNNNN.ids`` (their docids, one a line). Each shard is written to a temporary file and
renamed, so a killed encoding leaves only finished shards; the next run encodes the missing ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rankfw.core import Corpus, InputError

Encode = Callable[[Sequence[str]], Any]
"""Texts in, one vector per text out (a ``ctx.map_batches`` over the passage encoder)."""


@dataclass(frozen=True)
class Shard:
    """One finished shard: its vectors (a read-only memmap) and its docids."""

    vectors: np.ndarray
    docids: list[str]


class EmbeddingShards:
    """The shards of one corpus under one encoder, in ``folder``; ``size`` rows each."""

    def __init__(self, folder: Path, size: int, dtype: str = "float16") -> None:
        self.folder = Path(folder)
        self.size = size
        self.dtype = np.dtype(dtype)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, number: int, suffix: str) -> Path:
        return self.folder / f"shard-{number:05d}.{suffix}"

    def finished(self, number: int) -> bool:
        """Whether shard ``number`` is on disk (both files; the vectors are renamed last)."""
        return self._path(number, "npy").exists() and self._path(number, "ids").exists()

    def count(self) -> int:
        """The number of finished shards, counted from 0 up to the first missing one."""
        number = 0
        while self.finished(number):
            number += 1
        return number

    def write(self, number: int, docids: Sequence[str], vectors: np.ndarray) -> None:
        """Store shard ``number`` atomically (temporary files renamed into place, vectors last)."""
        for suffix, save in (
            ("ids", lambda f: f.write("".join(f"{d}\n" for d in docids).encode())),
            ("npy", lambda f: np.save(f, np.asarray(vectors, dtype=self.dtype))),
        ):
            final = self._path(number, suffix)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as handle:
                save(handle)
            os.replace(tmp, final)

    def shard(self, number: int) -> Shard:
        """Finished shard ``number``, its vectors memory-mapped (nothing read until used)."""
        vectors = np.load(self._path(number, "npy"), mmap_mode="r")
        docids = self._path(number, "ids").read_text().splitlines()
        return Shard(vectors, docids)

    def __iter__(self) -> Iterator[Shard]:
        for number in range(self.count()):
            yield self.shard(number)

    def fill(self, corpus: Corpus, encode: Encode, advance: Callable[[int], None], stage: str) -> int:
        """Encode every missing shard of ``corpus``; return how many shards were encoded now.

        The corpus is streamed: only one shard's texts are in memory. Shards already on disk are
        skipped (their documents are read, not encoded).
        """
        encoded, number, docids, texts, total = 0, 0, [], [], 0
        for doc in corpus:
            docids.append(doc.docid)
            texts.append(doc.contents)
            if len(texts) == self.size:
                encoded += self._fill_one(number, docids, texts, encode, advance)
                number, total, docids, texts = number + 1, total + len(texts), [], []
        if texts:
            encoded += self._fill_one(number, docids, texts, encode, advance)
            total += len(texts)
        if total == 0:
            raise InputError("the corpus is empty", stage)
        return encoded

    def _fill_one(
        self, number: int, docids: list[str], texts: list[str], encode: Encode, advance: Callable[[int], None]
    ) -> int:
        if self.finished(number):
            advance(len(texts))
            return 0
        vectors = np.stack([np.asarray(v, dtype=np.float32) for v in encode(texts)])
        self.write(number, docids, vectors)
        advance(len(texts))
        return 1

    def rows(self) -> int:
        """The number of vectors over all finished shards."""
        return sum(len(s.docids) for s in self)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` rows drawn uniformly without replacement (all when fewer), as float32."""
        sizes = [len(s.docids) for s in self]
        total = sum(sizes)
        picks = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
        out, start = [], 0
        for shard, size in zip(self, sizes, strict=True):
            local = picks[(picks >= start) & (picks < start + size)] - start
            if len(local):
                out.append(np.asarray(shard.vectors[local], dtype=np.float32))
            start += size
        return np.concatenate(out)

    def docid_table(self, path: Path) -> None:
        """Write every docid, in row order, as a fixed-width byte array (``np.load(mmap_mode='r')``)."""
        width = max(max((len(d.encode()) for d in s.docids), default=1) for s in self)
        table = np.lib.format.open_memmap(path, mode="w+", dtype=f"S{width}", shape=(self.rows(),))
        start = 0
        for shard in self:
            table[start : start + len(shard.docids)] = [d.encode() for d in shard.docids]
            start += len(shard.docids)
        table.flush()
        del table
