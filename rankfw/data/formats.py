"""The data formats rankfw reads: one table from format name to reader, and detection of a file's
format from its first line (a spec's ``dataset.formats`` overrides it)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.io import iter_lines
from rankfw.data import parsers


@dataclass(frozen=True)
class Format:
    """One format of one kind of source: its reader, a description and an example line."""

    kind: str
    name: str
    description: str
    example: str
    reader: Callable[..., Any]


def _table(kind: str, *rows: tuple[str, str, str, Callable[..., Any]]) -> dict[str, Format]:
    return {name: Format(kind, name, description, example, reader) for name, description, example, reader in rows}


CORPUS_FORMATS = _table(
    "corpus",
    ("rankfw", "MIRACL / rankfw JSONL", '{"docid": "d1", "title": "Cats", "text": "Cats purr."}', parsers.parse_rankfw),
    ("pyserini", "pyserini JsonCollection JSONL (a file or a folder of .jsonl files)",
     '{"id": "d1", "contents": "Cats purr."}', parsers.parse_pyserini),
    ("beir", "BEIR corpus.jsonl", '{"_id": "d1", "title": "Cats", "text": "Cats purr."}', parsers.parse_beir),
    ("tsv", "TSV docid<TAB>text or docid<TAB>title<TAB>text (MS MARCO, mMARCO)", "d1\tCats\tCats purr.",
     parsers.parse_tsv_document),
)
"""Corpus formats: reader ``(line, where) -> Document`` (one document per line; any may be gzipped)."""

TOPICS_FORMATS = _table(
    "topics",
    ("tsv", "TSV qid<TAB>query", "q1\twhich animals purr", parsers.topics_tsv),
    ("jsonl", "JSONL; id in query_id, qid, _id or id; text in query, text or title",
     '{"query_id": "q1", "query": "which animals purr"}', parsers.topics_jsonl),
    ("beir", "BEIR queries.jsonl", '{"_id": "q1", "text": "which animals purr"}', parsers.topics_beir),
    ("trec", "TREC topic file: <top> blocks with <num>, <title>, <desc> (formats.topic_field: title or desc)",
     "<top> <num> Number: 301 <title> which animals purr <desc> Description: ... </top>", parsers.topics_trec),
)
"""Topic formats: reader ``(lines, path, field) -> (qid, query, where)...``."""

QRELS_FORMATS = _table(
    "qrels",
    ("trec", "TREC qrels: qid iteration docid relevance", "q1 0 d1 1", parsers.qrels_trec),
    ("beir", "BEIR qrels TSV with a header line query-id<TAB>corpus-id<TAB>score", "q1\td1\t1", parsers.qrels_beir),
)
"""Qrels formats: reader ``(lines, path) -> (qid, docid, relevance, where)...``."""

FORMATS: dict[str, dict[str, Format]] = {"corpus": CORPUS_FORMATS, "topics": TOPICS_FORMATS, "qrels": QRELS_FORMATS}
"""Source kind -> format name -> :class:`Format`."""

CORPUS_FOLDER_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
"""The files of a corpus folder (pyserini JsonCollection) that are read, in name order."""


def check_format(kind: str, name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a known format of ``kind`` (for spec validation)."""
    if name not in FORMATS[kind]:
        raise ValueError(f"unknown {kind} format {name!r} (one of: {', '.join(FORMATS[kind])})")


def get_format(kind: str, name: str | None, source: str | os.PathLike[str]) -> Format:
    """The :class:`Format` named ``name`` (``None``: detected from the first line of ``source``)."""
    if name is None:
        name = detect_format(kind, source)
    try:
        check_format(kind, name)
    except ValueError as e:
        raise InputError(str(e), str(source)) from None
    return FORMATS[kind][name]


def corpus_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a corpus: the file itself, or a folder's ``.jsonl(.gz)`` files in name order."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    files = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(CORPUS_FOLDER_SUFFIXES))
    if not files:
        raise InputError(f"a corpus folder needs {', '.join(CORPUS_FOLDER_SUFFIXES)} files; none found", str(p))
    return files


def first_line(path: str | os.PathLike[str]) -> tuple[int, str] | None:
    """The first non-empty line (number, text) of a file (of a corpus folder's first file)."""
    for lineno, line in iter_lines(corpus_files(path)[0]):
        if line.strip():
            return lineno, line
    return None


def detect_format(kind: str, source: str | os.PathLike[str]) -> str:
    """The format of ``source`` from its first non-empty line.

    When the line fits no format the default for the file name is returned (its reader then
    reports what is wrong with the line): JSONL for ``.jsonl``/``.json``, else TSV for topics,
    rankfw JSONL for corpora and TREC for qrels.
    """
    found = first_line(source)
    line = found[1].strip() if found else ""
    name = str(source).removesuffix(".gz")
    if kind == "corpus":
        obj = _json(line)
        if obj is not None:
            return parsers.guess_corpus_format(obj) or "rankfw"
        if "\t" in line or name.endswith(".tsv"):
            return "tsv"
        return "rankfw"
    if kind == "topics":
        if line.lower().startswith("<top>"):
            return "trec"
        obj = _json(line)
        if obj is not None:
            return "beir" if "_id" in obj and "text" in obj else "jsonl"
        return "jsonl" if name.endswith((".jsonl", ".json")) else "tsv"
    if kind == "qrels":
        return "beir" if tuple(line.lower().split()) == parsers.BEIR_QRELS_HEADER else "trec"
    raise ValueError(f"no formats for {kind!r}")


def _json(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None
