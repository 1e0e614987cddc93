"""Corpus back-ends: files of one document per line (any format of the table) with an on-disk
docid index, and ir_datasets ids."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError, file_line
from rankfw.core.io import (
    BOM,
    atomic_open,
    atomic_write_json,
    cache_log,
    cached_file_digest,
    iter_lines,
    scratch_prefix,
    sqlite_damage,
    sweep_scratch,
    text_digest,
)
from rankfw.core.store import connect
from rankfw.core.types import Corpus, Document
from rankfw.data.formats import corpus_files, get_format
from rankfw.data.irds import IrdsCorpus, is_irds
from rankfw.data.parsers import document_from_dict

__all__ = ["JsonlCorpus", "document_from_dict", "open_corpus", "source_digest"]


def source_digest(path: Path, cache_dir: Path) -> str:
    """The content hash of a corpus file, or of a corpus folder's files (names and contents)."""
    if not path.is_dir():
        return cached_file_digest(path, cache_dir)
    parts = [(f.name, cached_file_digest(f, cache_dir)) for f in corpus_files(path)]
    return text_digest(*(x for part in parts for x in part))


class _Damaged(Exception):
    """A cache entry of a corpus that contradicts itself (rebuilt, never reported as the user's fault)."""


class JsonlCorpus(Corpus):
    """A corpus file of one document per line, in any format of
    :data:`rankfw.data.formats.CORPUS_FORMATS` (rankfw/MIRACL JSONL, pyserini, BEIR, TSV; gzipped
    or not), or a folder of such files (a pyserini JsonCollection).

    The first use builds an on-disk index (SQLite: docid -> byte offset, in ``cache_dir``, keyed
    by the content hash); a gzipped file or a folder is copied once into the cache as one plain
    file so that it can be read at offsets. Only the index is consulted on lookup, never the whole
    file. ``format`` is a name from the table; ``None`` detects it from the first line.
    """

    def __init__(self, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str], format: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file() and not self.path.is_dir():
            raise InputError("corpus file not found", str(self.path))
        self.format = get_format("corpus", format, self.path)
        self._files = corpus_files(self.path)
        self._cache_dir = Path(cache_dir) / "corpus"
        self._fingerprint: str | None = None
        self._db: sqlite3.Connection | None = None
        self._plain: Path | None = None
        self._len: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (for executors that ship the corpus to workers): the SQLite handle is reopened lazily."""
        return {**self.__dict__, "_db": None}

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = source_digest(self.path, self._cache_dir)
            # the same bytes read in another format are other documents (rankfw keeps the plain hash)
            self._fingerprint = digest if self.format.name == "rankfw" else text_digest(digest, self.format.name)
        return self._fingerprint

    def _parse(self, line: str, where: str) -> Document:
        return self.format.reader(line.removeprefix(BOM).rstrip("\r\n"), where)

    def _where(self, lineno: int) -> str:
        """``file:line`` in the user's files for a line of the plain copy (a folder's files are concatenated)."""
        if len(self._files) == 1:
            return file_line(self.path, lineno)
        for f in self._files:
            count = sum(1 for _ in iter_lines(f))
            if lineno <= count:
                return file_line(f, lineno)
            lineno -= count
        return file_line(self.path, lineno)

    def __iter__(self) -> Iterator[Document]:
        for path in self._files:
            for lineno, line in iter_lines(path):
                if line.strip():
                    yield self._parse(line, file_line(path, lineno))

    def __len__(self) -> int:
        if self._len is None:
            (self._len,) = self._query("SELECT COUNT(*) FROM docs", [])[0]
        return self._len

    def _offsets(self, wanted: list[str]) -> dict[str, int]:
        self._index()  # builds (and checks) the index even when nothing is wanted
        offsets: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            offsets.update(self._query(f"SELECT docid, offset FROM docs WHERE docid IN ({marks})", chunk))
        return offsets

    def _query(self, sql: str, args: list[str]) -> list[Any]:
        """Rows of ``sql``; an index that SQLite finds damaged is rebuilt once (one log line)."""
        try:
            return self._index().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            self._rebuild(f"SQLite: {e}")
            return self._index().execute(sql, args).fetchall()

    def missing(self, docids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(docids))
        offsets = self._offsets(wanted)
        return [d for d in wanted if d not in offsets]

    def __contains__(self, docid: object) -> bool:
        return not self.missing([str(docid)])  # the index alone, no text read

    def validate(self) -> None:
        """Build (or reuse) the docid index, which checks every line of the file; an empty corpus is an error."""
        self._index()
        if len(self) == 0:
            raise InputError("the corpus has no documents", str(self.path))

    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        offsets = self._offsets(wanted)
        missing = [d for d in wanted if d not in offsets]
        if missing:
            raise InputError(f"{len(missing)} docid(s) not in the corpus, e.g. {missing[0]!r}", str(self.path))
        try:
            return self._read(wanted, offsets)
        except _Damaged as e:  # the cache (index or decompressed copy) disagrees with itself
            self._rebuild(str(e))
            return self._read(wanted, self._offsets(wanted))

    def _read(self, wanted: list[str], offsets: dict[str, int]) -> dict[str, Document]:
        out: dict[str, Document] = {}
        assert self._plain is not None
        with open(self._plain, "rb") as f:
            for docid in sorted(offsets, key=offsets.__getitem__):
                f.seek(offsets[docid])
                raw = f.readline()
                try:
                    doc = self._parse(raw.decode("utf-8"), str(self.path))
                except (UnicodeDecodeError, InputError):
                    doc = None
                if doc is None or doc.docid != docid:
                    if self._plain == self.path and doc is not None:
                        raise InputError(f"the file changed while in use (document {docid!r} moved)", str(self.path))
                    raise _Damaged(f"document {docid!r} is not at offset {offsets[docid]} of {self._plain}")
                out[docid] = doc
        return {d: out[d] for d in wanted}

    def _rebuild(self, reason: str) -> None:
        """Drop this corpus's cache entry (with one log line) and build it again."""
        folder = self._cache_dir / self.fingerprint
        cache_log.warning("cache entry %s: %s; rebuilding it from %s", folder, reason, self.path)
        if self._db is not None:
            self._db.close()
        self._db = None
        for stale in (folder / "index.json", folder / "docids.sqlite", folder / "corpus.jsonl"):
            stale.unlink(missing_ok=True)
        self._index()

    def _index(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        folder = self._cache_dir / self.fingerprint
        folder.mkdir(parents=True, exist_ok=True)
        db_path, marker = folder / "docids.sqlite", folder / "index.json"
        damage = self._damage(folder, db_path, marker)
        if damage:
            cache_log.warning("cache entry %s: %s; rebuilding it from %s", folder, damage, self.path)
            for stale in (marker, db_path, folder / "corpus.jsonl"):
                stale.unlink(missing_ok=True)
        self._plain = self._plain_copy(folder)
        if not marker.exists():
            db_path.unlink(missing_ok=True)
            self._build_index(db_path)
            with closing(sqlite3.connect(db_path)) as db:
                (count,) = db.execute("SELECT COUNT(*) FROM docs").fetchone()
            atomic_write_json(marker, {"source": self.fingerprint, "plain_bytes": self._plain.stat().st_size,
                                       "index_bytes": db_path.stat().st_size, "docs": count})
        self._db = connect(db_path)
        return self._db

    def _damage(self, folder: Path, db_path: Path, marker: Path) -> str | None:
        """Why the cache entry (index, decompressed copy, marker) cannot be trusted; None if it can.

        The marker is written last, so an entry without one was never finished. Checked on every
        open, cheaply: sizes against the marker, and the SQLite header against the file size.
        """
        if not marker.exists():
            return "unfinished" if db_path.exists() or (folder / "corpus.jsonl").exists() else None
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            plain = self.path if self.path.is_file() and self.path.suffix != ".gz" else folder / "corpus.jsonl"
            sizes = (plain.stat().st_size, db_path.stat().st_size)
        except (OSError, ValueError) as e:
            return f"unreadable ({e})"
        if not isinstance(meta, dict) or meta.get("source") != self.fingerprint:
            return "its marker does not name this corpus"
        if sizes != (meta.get("plain_bytes"), meta.get("index_bytes")):
            return f"sizes {sizes} differ from the recorded {(meta.get('plain_bytes'), meta.get('index_bytes'))}"
        return sqlite_damage(db_path)

    def _plain_copy(self, folder: Path) -> Path:
        if self.path.is_file() and self.path.suffix != ".gz":
            return self.path
        plain = folder / "corpus.jsonl"
        if not plain.exists():
            with atomic_open(plain, "w") as out:
                for path in self._files:
                    for _, line in iter_lines(path):
                        out.write(line + "\n")
        return plain

    def _build_index(self, db_path: Path) -> None:
        sweep_scratch(db_path)
        tmp = db_path.with_name(f"{scratch_prefix(db_path)}index.tmp")
        tmp.unlink(missing_ok=True)
        db = connect(tmp)
        db.execute("CREATE TABLE docs (docid TEXT PRIMARY KEY, offset INTEGER, line INTEGER)")
        assert self._plain is not None
        try:
            with open(self._plain, "rb") as f:
                offset, lineno, rows = 0, 0, []
                for raw in f:
                    lineno += 1
                    if raw.strip():
                        try:
                            text = raw.decode("utf-8")
                        except UnicodeDecodeError as e:
                            raise InputError(f"not valid UTF-8 text ({e.reason})", self._where(lineno)) from None
                        try:
                            doc = self._parse(text.rstrip("\r\n"), "")
                        except InputError as e:
                            raise InputError(e.message, self._where(lineno)) from None
                        rows.append((doc.docid, offset, lineno))
                    offset += len(raw)
                    if len(rows) >= 10_000:
                        _insert(db, rows, self._where)
                        rows = []
                _insert(db, rows, self._where)
            db.commit()
            db.close()
            os.replace(tmp, db_path)
        except BaseException:
            db.close()
            tmp.unlink(missing_ok=True)
            raise


def _insert(db: sqlite3.Connection, rows: list[tuple[str, int, int]], where: Callable[[int], str]) -> None:
    db.execute("SAVEPOINT batch")
    try:
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)", rows)
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK TO batch")
        for docid, offset, line in rows:  # find the first duplicate, row by row
            first = db.execute("SELECT line FROM docs WHERE docid = ?", (docid,)).fetchone()
            if first:
                here, there = where(line), where(first[0])
                same_file = here.rsplit(":", 1)[0] == there.rsplit(":", 1)[0]
                earlier = f"on line {there.rsplit(':', 1)[1]}" if same_file else f"at {there}"
                raise InputError(f"duplicate docid {docid!r} (first {earlier})", here) from None
            db.execute("INSERT INTO docs VALUES (?, ?, ?)", (docid, offset, line))
        raise
    db.execute("RELEASE batch")


def open_corpus(source: str | os.PathLike[str], cache_dir: str | os.PathLike[str], format: str | None = None) -> Corpus:
    """A corpus from a file or folder (``format``: a name of the format table, ``None`` to detect
    it) or an ``irds:`` id."""
    if is_irds(source):
        return IrdsCorpus(str(source))
    return JsonlCorpus(source, cache_dir, format)
