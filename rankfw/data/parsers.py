"""Parsers for each data format: a corpus line -> Document, topic lines -> (qid, query), qrels
lines -> judgements. Every malformed record is an :class:`InputError` naming the file and line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from rankfw.core.errors import InputError, file_line
from rankfw.core.types import Document

Lines = Iterable[tuple[int, str]]
"""``(line_number, line)`` pairs, as :func:`rankfw.core.io.iter_lines` yields them."""

# --- corpora ----------------------------------------------------------------------------------


def json_object(line: str, where: str, expected: str = "a JSON object") -> dict[str, Any]:
    """``line`` parsed as a JSON object, else an :class:`InputError` at ``where``."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON ({e.msg})", where) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected {expected}", where)
    return obj


def guess_corpus_format(obj: dict[str, Any]) -> str | None:
    """The corpus format whose fields a JSON line has (``None`` when none fits)."""
    if "docid" in obj:
        return "rankfw"
    if "_id" in obj:
        return "beir"
    if "id" in obj and "contents" in obj:
        return "pyserini"
    return None


def _missing(obj: dict[str, Any], name: str, current: str, where: str) -> InputError:
    fields = ", ".join(obj) or "no fields"
    guess = guess_corpus_format(obj)
    hint = f"; a {guess} corpus? set formats.corpus: {guess}" if guess and guess != current else ""
    return InputError(f"no {name!r} field (this line has: {fields}{hint})", where)


def make_document(docid: Any, title: Any, text: Any, where: str) -> Document:
    """A validated :class:`Document`: a docid without spaces, string title and text."""
    if not isinstance(docid, str) or not docid or any(c.isspace() for c in docid):
        raise InputError("'docid' must be a non-empty string without spaces", where)
    if not isinstance(text, str):
        raise InputError(f"document {docid!r}: 'text' must be a string", where)
    if not isinstance(title, str):
        raise InputError(f"document {docid!r}: 'title' must be a string", where)
    return Document(docid, title, text)


def document_from_dict(obj: Any, where: str) -> Document:
    """A :class:`Document` from a ``{"docid", "title", "text"}`` mapping (``_id`` is accepted for
    ``docid``), validated. Used for corpora and for the passages of training data."""
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object with 'docid' and 'text'", where)
    if "docid" not in obj and "_id" not in obj:
        raise _missing(obj, "docid", "rankfw", where)
    return make_document(obj.get("docid", obj.get("_id")), obj.get("title", "") or "", obj.get("text"), where)


def parse_rankfw(line: str, where: str) -> Document:
    """MIRACL / rankfw JSONL: ``{"docid", "title", "text"}``."""
    return document_from_dict(json_object(line, where, "a JSON object with 'docid' and 'text'"), where)


def parse_beir(line: str, where: str) -> Document:
    """BEIR ``corpus.jsonl``: ``{"_id", "title", "text"}``."""
    obj = json_object(line, where, "a JSON object with '_id' and 'text'")
    if "_id" not in obj:
        raise _missing(obj, "_id", "beir", where)
    return make_document(obj["_id"], obj.get("title", "") or "", obj.get("text"), where)


def parse_pyserini(line: str, where: str) -> Document:
    """pyserini JsonCollection: ``{"id", "contents"}`` (no title)."""
    obj = json_object(line, where, "a JSON object with 'id' and 'contents'")
    for name in ("id", "contents"):
        if name not in obj:
            raise _missing(obj, name, "pyserini", where)
    title = obj.get("title", "")
    return make_document(obj["id"], title if isinstance(title, str) else "", obj["contents"], where)


def parse_tsv_document(line: str, where: str) -> Document:
    """TSV: ``docid<TAB>text`` or ``docid<TAB>title<TAB>text``."""
    parts = line.split("\t")
    if len(parts) == 2:
        return make_document(parts[0], "", parts[1], where)
    if len(parts) == 3:
        return make_document(parts[0], parts[1], parts[2], where)
    raise InputError(f"expected 'docid<TAB>text' or 'docid<TAB>title<TAB>text', got {len(parts)} column(s)", where)


# --- topics -----------------------------------------------------------------------------------

QID_FIELDS = ("query_id", "qid", "_id", "id")
QUERY_FIELDS = ("query", "text", "title")


def topics_tsv(lines: Lines, path: str, field: str = "title") -> Iterator[tuple[str, str, str]]:
    """``qid<TAB>query``: yields ``(qid, query, where)``."""
    for lineno, line in lines:
        if not line.strip():
            continue
        where = file_line(path, lineno)
        parts = line.split("\t")
        if len(parts) != 2:
            raise InputError(f"expected 2 tab-separated columns 'qid<TAB>query', got {len(parts)}", where)
        qid, query = parts[0].strip(), parts[1].strip()
        if not qid or not query:
            raise InputError("empty query id or query text", where)
        yield qid, query, where


def _topics_json(lines: Lines, path: str, qid_fields: tuple[str, ...], query_fields: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    for lineno, line in lines:
        if not line.strip():
            continue
        where = file_line(path, lineno)
        obj = json_object(line, where)
        qid = next((obj[f] for f in qid_fields if f in obj), None)
        query = next((obj[f] for f in query_fields if f in obj), None)
        has = ", ".join(obj) or "no fields"
        if qid is None:
            raise InputError(f"no query id field ({_or(qid_fields)}; this line has: {has})", where)
        if query is None:
            raise InputError(f"no query text field ({_or(query_fields)}; this line has: {has})", where)
        if not isinstance(qid, (str, int)) or not str(qid).strip() or not isinstance(query, str) or not query.strip():
            raise InputError("the query id must be a string or a number and the query a non-empty string", where)
        yield str(qid).strip(), query.strip(), where


def _or(names: tuple[str, ...]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def topics_jsonl(lines: Lines, path: str, field: str = "title") -> Iterator[tuple[str, str, str]]:
    """JSONL: id in ``query_id``/``qid``/``_id``/``id``, text in ``query``/``text``/``title``."""
    return _topics_json(lines, path, QID_FIELDS, QUERY_FIELDS)


def topics_beir(lines: Lines, path: str, field: str = "title") -> Iterator[tuple[str, str, str]]:
    """BEIR ``queries.jsonl``: ``{"_id", "text"}``."""
    return _topics_json(lines, path, ("_id",), ("text",))


_TAG = re.compile(r"<(num|title|desc|narr)>(.*?)(?=<[/a-zA-Z]|\Z)", re.DOTALL | re.IGNORECASE)
_LABEL = re.compile(r"^\s*(number|topic|description|narrative)\s*:", re.IGNORECASE)


def topics_trec(lines: Lines, path: str, field: str = "title") -> Iterator[tuple[str, str, str]]:
    """TREC topic files: ``<top>`` blocks with ``<num>``, ``<title>``, ``<desc>`` (closed or not);
    ``field`` is ``title`` or ``desc``."""
    block: list[str] | None = None
    start = 0
    for lineno, line in lines:
        low = line.strip().lower()
        if low.startswith("<top>"):
            if block is not None:
                raise InputError("a <top> block opens before the previous one is closed with </top>", file_line(path, lineno))
            block, start = [], lineno
        elif low.startswith("</top>"):
            if block is None:
                raise InputError("</top> without <top>", file_line(path, lineno))
            yield _trec_topic("\n".join(block), field, file_line(path, start))
            block = None
        elif block is not None:
            block.append(line)
        elif low:
            raise InputError(f"text outside a <top> block: {line.strip()[:40]!r}", file_line(path, lineno))
    if block is not None:
        raise InputError("the last <top> block is not closed with </top>", file_line(path, start))


def _trec_topic(block: str, field: str, where: str) -> tuple[str, str, str]:
    tags: dict[str, str] = {}
    for match in _TAG.finditer(block):
        value = " ".join(_LABEL.sub("", match.group(2)).split())
        tags.setdefault(match.group(1).lower(), value)
    qid = tags.get("num", "")
    if not qid or any(c.isspace() for c in qid):
        raise InputError("a topic without a <num> (a query id without spaces)", where)
    query = tags.get(field, "")
    if not query:
        raise InputError(f"topic {qid!r} has no <{field}> text", where)
    return qid, query, where


# --- qrels ------------------------------------------------------------------------------------

BEIR_QRELS_HEADER = ("query-id", "corpus-id", "score")


def qrels_trec(lines: Lines, path: str) -> Iterator[tuple[str, str, str, str]]:
    """TREC qrels: ``qid iteration docid relevance``; yields ``(qid, docid, relevance, where)``."""
    for lineno, line in lines:
        if not line.strip():
            continue
        where = file_line(path, lineno)
        parts = line.split()
        if len(parts) != 4:
            raise InputError(f"expected 4 columns 'qid iteration docid relevance', got {len(parts)}", where)
        yield parts[0], parts[2], parts[3], where


def qrels_beir(lines: Lines, path: str) -> Iterator[tuple[str, str, str, str]]:
    """BEIR qrels: a ``query-id<TAB>corpus-id<TAB>score`` header, then three columns."""
    header = True
    for lineno, line in lines:
        if not line.strip():
            continue
        where = file_line(path, lineno)
        parts = line.split()
        if header:
            if tuple(p.lower() for p in parts) != BEIR_QRELS_HEADER:
                raise InputError("expected the BEIR header 'query-id<TAB>corpus-id<TAB>score'", where)
            header = False
            continue
        if len(parts) != 3:
            raise InputError(f"expected 3 columns 'query-id corpus-id score', got {len(parts)}", where)
        yield parts[0], parts[1], parts[2], where
