"""Readers for corpora, topics, qrels, training data and parallel text; local files or ir_datasets.

Every reader reports malformed input as an :class:`InputError` naming the file and line. A
source written ``irds:<dataset id>`` (e.g. ``irds:miracl/de/dev``) is read through ir_datasets.
"""

from __future__ import annotations

import json
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError, file_line
from rankfw.core.io import file_digest, iter_lines, text_digest

IRDS_PREFIX = "irds:"

Topics = dict[str, str]
"""Queries by id, in file order: ``qid -> query text``."""

Qrels = dict[str, dict[str, int]]
"""Relevance judgements: ``qid -> {docid: relevance}``."""


@dataclass(frozen=True, slots=True)
class Document:
    """One passage: its id, title (may be empty) and text."""

    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """Title and text joined as MIRACL indexes them (``title text``)."""
        return f"{self.title} {self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """A training query with its positive and (hard) negative passages (MIRACL train format)."""

    query_id: str
    query: str
    positives: list[Document] = field(default_factory=list)
    negatives: list[Document] = field(default_factory=list)


def is_irds(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names an ir_datasets id (``irds:...``)."""
    return isinstance(source, str) and source.startswith(IRDS_PREFIX)


def load_irds(source: str) -> Any:
    """Load an ir_datasets dataset from ``irds:<id>``, with a clear error for an unknown id."""
    import ir_datasets

    dataset_id = source[len(IRDS_PREFIX) :]
    try:
        return ir_datasets.load(dataset_id)
    except KeyError:
        raise InputError(f"unknown ir_datasets id {dataset_id!r}", source) from None


# --- corpus -----------------------------------------------------------------------------------


class Corpus(ABC):
    """A document collection with lookup by docid that does not hold the texts in memory."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """A content hash (or stable id) that changes whenever the documents change."""

    @abstractmethod
    def __iter__(self) -> Iterator[Document]:
        """Stream every document in collection order."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of documents."""

    @abstractmethod
    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        """Documents by id; unknown ids raise an :class:`InputError`."""

    def validate(self) -> None:
        """Check the whole corpus once (malformed lines, duplicate docids); a no-op by default."""

    def missing(self, docids: Iterable[str]) -> list[str]:
        """The docids that are not in the corpus (in the order given)."""
        wanted = list(dict.fromkeys(docids))
        try:
            self.get_many(wanted)
        except InputError:
            return [d for d in wanted if d not in self]
        return []

    def __getitem__(self, docid: str) -> Document:
        return self.get_many([docid])[docid]

    def __contains__(self, docid: object) -> bool:
        try:
            self.get_many([str(docid)])
        except InputError:
            return False
        return True


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
        self._db = sqlite3.connect(db_path, check_same_thread=False)
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
        db = sqlite3.connect(tmp)
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


class IrdsCorpus(Corpus):
    """The documents of an ir_datasets dataset, looked up through its ``docs_store()``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._dataset = load_irds(source)
        if not self._dataset.has_docs():
            raise InputError("this ir_datasets dataset has no documents", source)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable: only the source travels; the dataset is loaded again on the other side."""
        return {"source": self.source}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.source = state["source"]
        self._dataset = load_irds(self.source)

    @property
    def fingerprint(self) -> str:
        return text_digest(self.source)

    def __iter__(self) -> Iterator[Document]:
        for doc in self._dataset.docs_iter():
            yield _irds_document(doc)

    def __len__(self) -> int:
        count = self._dataset.docs_count()
        return int(count) if count is not None else sum(1 for _ in self._dataset.docs_iter())

    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        found = self._dataset.docs_store().get_many(wanted)
        missing = [d for d in wanted if d not in found]
        if missing:
            raise InputError(f"{len(missing)} docid(s) not in the corpus, e.g. {missing[0]!r}", self.source)
        return {d: _irds_document(found[d]) for d in wanted}


def _irds_document(doc: Any) -> Document:
    return Document(doc.doc_id, getattr(doc, "title", "") or "", getattr(doc, "text", "") or "")


def open_corpus(source: str | os.PathLike[str], cache_dir: str | os.PathLike[str]) -> Corpus:
    """A corpus from a JSONL(.gz) path or an ``irds:`` id."""
    if is_irds(source):
        return IrdsCorpus(str(source))
    return JsonlCorpus(source, cache_dir)


def cached_file_digest(path: Path, cache_dir: Path) -> str:
    """The file's SHA-256, remembered by (path, size, mtime) so a large file is hashed once."""
    stat = path.stat()
    key = text_digest(str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns))
    memo = cache_dir / "digests" / key
    if memo.exists():
        return memo.read_text().strip()
    digest = file_digest(path)
    from rankfw.core.io import atomic_write_text

    atomic_write_text(memo, digest)
    return digest


# --- topics, qrels --------------------------------------------------------------------------


def read_topics(source: str | os.PathLike[str]) -> Topics:
    """Topics from a TSV (``qid<TAB>query``), a JSONL (``{"query_id"|"qid", "query"|"text"}``)
    file or an ``irds:`` id. Empty topics and repeated qids are errors."""
    if is_irds(source):
        dataset = load_irds(str(source))
        if not dataset.has_queries():
            raise InputError("this ir_datasets dataset has no queries", str(source))
        topics = {q.query_id: q.text for q in dataset.queries_iter()}
    else:
        topics = {}
        jsonl = str(source).endswith((".jsonl", ".jsonl.gz", ".json"))
        for lineno, line in iter_lines(source):
            if not line.strip():
                continue
            where = file_line(source, lineno)
            qid, query = _parse_topic_json(line, where) if jsonl else _parse_topic_tsv(line, where)
            if qid in topics:
                raise InputError(f"query id {qid!r} appears twice", where)
            topics[qid] = query
    if not topics:
        raise InputError("no topics (the file is empty)", str(source))
    return topics


def _parse_topic_tsv(line: str, where: str) -> tuple[str, str]:
    parts = line.split("\t")
    if len(parts) != 2:
        raise InputError(f"expected 2 tab-separated columns 'qid<TAB>query', got {len(parts)}", where)
    qid, query = parts[0].strip(), parts[1].strip()
    if not qid or not query:
        raise InputError("empty query id or query text", where)
    return qid, query


def _parse_topic_json(line: str, where: str) -> tuple[str, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", where) from None
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", where)
    qid = obj.get("query_id", obj.get("qid", obj.get("_id")))
    query = obj.get("query", obj.get("text"))
    if not isinstance(qid, (str, int)) or not isinstance(query, str) or not query.strip():
        raise InputError("expected 'query_id' (or 'qid') and a non-empty 'query' (or 'text')", where)
    return str(qid), query.strip()


def read_qrels(source: str | os.PathLike[str]) -> Qrels:
    """TREC qrels (``qid iteration docid relevance``) from a file or an ``irds:`` id."""
    qrels: Qrels = {}
    if is_irds(source):
        dataset = load_irds(str(source))
        if not dataset.has_qrels():
            raise InputError("this ir_datasets dataset has no qrels", str(source))
        for q in dataset.qrels_iter():
            qrels.setdefault(q.query_id, {})[q.doc_id] = int(q.relevance)
        return qrels
    for lineno, line in iter_lines(source):
        if not line.strip():
            continue
        where = file_line(source, lineno)
        parts = line.split()
        if len(parts) != 4:
            raise InputError(f"expected 4 columns 'qid iteration docid relevance', got {len(parts)}", where)
        qid, _, docid, rel = parts
        try:
            qrels.setdefault(qid, {})[docid] = int(rel)
        except ValueError:
            raise InputError(f"relevance must be an integer, got {rel!r}", where) from None
    if not qrels:
        raise InputError("no judgements (the file is empty)", str(source))
    return qrels


# --- training data, parallel text --------------------------------------------------------------


def read_training(source: str | os.PathLike[str]) -> Iterator[TrainingExample]:
    """Training examples from MIRACL-train JSONL(.gz) or an ``irds:`` id.

    Through ir_datasets, positives are the judged-relevant documents and negatives the documents
    judged non-relevant (MIRACL judges both).
    """
    if is_irds(source):
        yield from _irds_training(str(source))
        return
    for lineno, line in iter_lines(source):
        if not line.strip():
            continue
        where = file_line(source, lineno)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg})", where) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("query"), str):
            raise InputError("expected a JSON object with 'query', 'positive_passages', 'negative_passages'", where)
        positives = obj.get("positive_passages", [])
        negatives = obj.get("negative_passages", [])
        if not isinstance(positives, list) or not isinstance(negatives, list):
            raise InputError("'positive_passages' and 'negative_passages' must be lists", where)
        yield TrainingExample(
            query_id=str(obj.get("query_id", lineno)),
            query=obj["query"],
            positives=[document_from_dict(p, where) for p in positives],
            negatives=[document_from_dict(n, where) for n in negatives],
        )


def _irds_training(source: str) -> Iterator[TrainingExample]:
    dataset = load_irds(source)
    qrels: Qrels = {}
    for q in dataset.qrels_iter():
        qrels.setdefault(q.query_id, {})[q.doc_id] = int(q.relevance)
    store = dataset.docs_store()
    for query in dataset.queries_iter():
        judged = qrels.get(query.query_id, {})
        docs = {d.doc_id: _irds_document(d) for d in store.get_many(list(judged)).values()}
        yield TrainingExample(
            query_id=query.query_id,
            query=query.text,
            positives=[docs[d] for d, r in judged.items() if r > 0 and d in docs],
            negatives=[docs[d] for d, r in judged.items() if r <= 0 and d in docs],
        )


def read_parallel(source: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Parallel text as ``(english, target)`` pairs from TSV (``english<TAB>target``) or JSONL
    (``{"source", "target"}``)."""
    pairs: list[tuple[str, str]] = []
    jsonl = str(source).endswith((".jsonl", ".jsonl.gz"))
    for lineno, line in iter_lines(source):
        if not line.strip():
            continue
        where = file_line(source, lineno)
        if jsonl:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON ({e.msg})", where) from None
            if not isinstance(obj, dict) or not isinstance(obj.get("source"), str) or not isinstance(obj.get("target"), str):
                raise InputError("expected a JSON object with string 'source' and 'target'", where)
            pairs.append((obj["source"], obj["target"]))
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise InputError(f"expected 2 non-empty tab-separated columns 'english<TAB>target', got {len(parts)}", where)
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise InputError("no sentence pairs (the file is empty)", str(source))
    return pairs
