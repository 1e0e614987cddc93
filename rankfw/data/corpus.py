"""Corpus back-ends: JSONL(.gz) files with an on-disk docid index, and ir_datasets ids."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError, file_line
from rankfw.core.io import cached_file_digest, iter_lines
from rankfw.core.store import connect
from rankfw.core.types import Corpus, Document
from rankfw.data.irds import IrdsCorpus, is_irds


def _parse_document(line: str, where: str) -> Document:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", where) from None
    return document_from_dict(obj, where)


def document_from_dict(obj: Any, where: str) -> Document:
    """A :class:`Document` from a ``{"docid", "title", "text"}`` mapping, validated."""
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object with 'docid' and 'text'", where)
    docid = obj.get("docid", obj.get("_id"))
    if not isinstance(docid, str) or not docid or any(c.isspace() for c in docid):
        raise InputError("'docid' must be a non-empty string without spaces", where)
    text = obj.get("text")
    title = obj.get("title", "") or ""
    if not isinstance(text, str):
        raise InputError(f"document {docid!r}: 'text' must be a string", where)
    if not isinstance(title, str):
        raise InputError(f"document {docid!r}: 'title' must be a string", where)
    return Document(docid, title, text)


class JsonlCorpus(Corpus):
    """A JSONL(.gz) corpus of ``{"docid", "title", "text"}`` lines.

    The first use builds an on-disk index (SQLite: docid -> byte offset, in ``cache_dir``, keyed
    by the file's content hash); a gzipped file is decompressed once into the cache so that it can
    be read at offsets. Only the index is consulted on lookup, never the whole file.
    """

    def __init__(self, path: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("corpus file not found", str(self.path))
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
            self._fingerprint = cached_file_digest(self.path, self._cache_dir)
        return self._fingerprint

    def __iter__(self) -> Iterator[Document]:
        for lineno, line in iter_lines(self.path):
            if line.strip():
                yield _parse_document(line, file_line(self.path, lineno))

    def __len__(self) -> int:
        if self._len is None:
            (self._len,) = self._index().execute("SELECT COUNT(*) FROM docs").fetchone()
        return self._len

    def _offsets(self, wanted: list[str]) -> dict[str, int]:
        db = self._index()
        offsets: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            offsets.update(db.execute(f"SELECT docid, offset FROM docs WHERE docid IN ({marks})", chunk))
        return offsets

    def missing(self, docids: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(docids))
        offsets = self._offsets(wanted)
        return [d for d in wanted if d not in offsets]

    def __contains__(self, docid: object) -> bool:
        return not self.missing([str(docid)])  # the index alone, no text read

    def validate(self) -> None:
        """Build (or reuse) the docid index, which checks every line of the file."""
        self._index()

    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        offsets = self._offsets(wanted)
        missing = [d for d in wanted if d not in offsets]
        if missing:
            raise InputError(f"{len(missing)} docid(s) not in the corpus, e.g. {missing[0]!r}", str(self.path))
        out: dict[str, Document] = {}
        assert self._plain is not None
        with open(self._plain, "rb") as f:
            for docid in sorted(offsets, key=offsets.__getitem__):
                f.seek(offsets[docid])
                line = f.readline().decode("utf-8")
                out[docid] = _parse_document(line, str(self.path))
        return {d: out[d] for d in wanted}

    def _index(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        folder = self._cache_dir / self.fingerprint
        folder.mkdir(parents=True, exist_ok=True)
        self._plain = self._plain_copy(folder)
        db_path = folder / "docids.sqlite"
        if not db_path.exists():
            self._build_index(db_path)
        self._db = connect(db_path)
        return self._db

    def _plain_copy(self, folder: Path) -> Path:
        if self.path.suffix != ".gz":
            return self.path
        plain = folder / "corpus.jsonl"
        if not plain.exists():
            from rankfw.core.io import atomic_open

            with atomic_open(plain, "w") as out:
                for _, line in iter_lines(self.path):
                    out.write(line + "\n")
        return plain

    def _build_index(self, db_path: Path) -> None:
        tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
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
                        where = file_line(self.path, lineno)
                        try:
                            text = raw.decode("utf-8")
                        except UnicodeDecodeError as e:
                            raise InputError(f"not valid UTF-8 text ({e.reason})", where) from None
                        doc = _parse_document(text, where)
                        rows.append((doc.docid, offset, lineno))
                    offset += len(raw)
                    if len(rows) >= 10_000:
                        _insert(db, rows, self.path)
                        rows = []
                _insert(db, rows, self.path)
            db.commit()
            db.close()
            os.replace(tmp, db_path)
        except BaseException:
            db.close()
            tmp.unlink(missing_ok=True)
            raise


def _insert(db: sqlite3.Connection, rows: list[tuple[str, int, int]], path: Path) -> None:
    db.execute("SAVEPOINT batch")
    try:
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)", rows)
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK TO batch")
        for docid, offset, line in rows:  # find the first duplicate, row by row
            first = db.execute("SELECT line FROM docs WHERE docid = ?", (docid,)).fetchone()
            if first:
                raise InputError(f"duplicate docid {docid!r} (first on line {first[0]})", file_line(path, line)) from None
            db.execute("INSERT INTO docs VALUES (?, ?, ?)", (docid, offset, line))
        raise
    db.execute("RELEASE batch")


def open_corpus(source: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> Corpus:
    """A corpus from a JSONL(.gz) path or an ``irds:`` id."""
    if is_irds(source):
        return IrdsCorpus(str(source))
    return JsonlCorpus(source, cache_dir)
