"""In-memory corpora, topics and qrels (lists of dicts, DataFrames) written to files keyed by content.

A spec's dataset fields are file templates or ``irds:`` ids; a notebook has Python objects instead.
Each object is written once, in the format the readers take, to ``CACHE/inputs/<digest>.<ext>``
(the digest of the file's own text), so the existing readers, corpus index and stage cache keys work
unchanged: the same data gives the same file and so the same cached stages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.io import atomic_write_text, text_digest
from rankfw.data import document_from_dict

FIELDS = ("corpus", "topics", "qrels")
"""The dataset fields that may hold in-memory objects."""
LANGUAGE_COLUMNS = ("language", "lang")


def is_in_memory(value: Any) -> bool:
    """Whether a dataset field's value is data (a DataFrame or a list of records), not a template."""
    return hasattr(value, "to_dict") and hasattr(value, "columns") or isinstance(value, (list, tuple))


def materialise_dataset(dataset: dict[str, Any], cache_dir: Path) -> dict[str, Any]:
    """A copy of ``dataset`` whose in-memory fields are replaced by paths of the files written.

    A field may be an object for every language, an object with a ``language`` column (split by
    it), or a mapping language -> object or template.
    """
    out = dict(dataset)
    languages = list(dataset.get("languages") or [])
    for name in FIELDS:
        value = dataset.get(name)
        if isinstance(value, Mapping):
            if any(is_in_memory(v) for v in value.values()):
                out[name] = {lang: _file_for(name, v, cache_dir, lang) if is_in_memory(v) else v for lang, v in value.items()}
        elif is_in_memory(value):
            records = _records(value, f"dataset.{name}")
            column = next((c for c in LANGUAGE_COLUMNS if records and all(c in r for r in records)), None)
            if column is None:
                out[name] = _write(name, records, cache_dir, f"dataset.{name}")
            else:
                split = {lang: [r for r in records if r[column] == lang] for lang in languages}
                out[name] = {lang: _write(name, rows, cache_dir, f"dataset.{name} [{lang}]") for lang, rows in split.items() if rows}
    return out


def _file_for(name: str, value: Any, cache_dir: Path, language: str) -> str:
    return _write(name, _records(value, f"dataset.{name}.{language}"), cache_dir, f"dataset.{name}.{language}")


def _records(value: Any, where: str) -> list[dict[str, Any]]:
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return [dict(r) for r in value.to_dict(orient="records")]
    rows = list(value)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(f"row {i} is a {type(row).__name__}, not a mapping (dict)", where)
    return [dict(r) for r in rows]


def _write(name: str, records: list[dict[str, Any]], cache_dir: Path, where: str) -> str:
    if not records:
        raise InputError("no rows", where)
    text, ext = {"corpus": (_corpus_text, "jsonl"), "topics": (_topics_text, "tsv"), "qrels": (_qrels_text, "txt")}[name]
    body = text(records, where)
    path = Path(cache_dir) / "inputs" / f"{name}-{text_digest(body)[:32]}.{ext}"
    if not path.is_file():
        atomic_write_text(path, body)
    return str(path)


def _field(row: Mapping[str, Any], names: Iterable[str], where: str) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise InputError(f"a row has no {' / '.join(names)}: {dict(row)!r:.80}", where)


def _corpus_text(records: list[dict[str, Any]], where: str) -> str:
    """JSONL ``{"docid", "title", "text"}``; ``docno`` (PyTerrier) is taken for ``docid``."""
    lines = []
    for i, row in enumerate(records):
        docid = _field(row, ("docid", "docno", "_id"), f"{where} row {i}")
        doc = document_from_dict({"docid": str(docid), "title": row.get("title") or "", "text": row.get("text")},
                                 f"{where} row {i}")
        lines.append(json.dumps({"docid": doc.docid, "title": doc.title, "text": doc.text}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _topics_text(records: list[dict[str, Any]], where: str) -> str:
    """``qid<TAB>query`` lines (columns ``qid`` and ``query``, PyTerrier's, or ``text``)."""
    lines = []
    for i, row in enumerate(records):
        qid = str(_field(row, ("qid", "query_id", "id"), f"{where} row {i}"))
        query = str(_field(row, ("query", "text"), f"{where} row {i}"))
        if not qid or any(c.isspace() for c in qid):
            raise InputError(f"qid {qid!r} must be non-empty without spaces", f"{where} row {i}")
        if "\t" in query or "\n" in query or not query.strip():
            query = " ".join(query.split())
            if not query:
                raise InputError(f"query {qid!r} is empty", f"{where} row {i}")
        lines.append(f"{qid}\t{query}")
    return "\n".join(lines) + "\n"


def _qrels_text(records: list[dict[str, Any]], where: str) -> str:
    """TREC qrels ``qid 0 docid relevance`` (columns ``qid, docno, label``, PyTerrier's, or
    ``docid`` / ``relevance``)."""
    lines = []
    for i, row in enumerate(records):
        at = f"{where} row {i}"
        qid = str(_field(row, ("qid", "query_id"), at))
        docid = str(_field(row, ("docno", "docid"), at))
        label = _field(row, ("label", "relevance", "rel"), at)
        try:
            value = int(label)
        except (TypeError, ValueError):
            raise InputError(f"relevance must be an integer, got {label!r}", at) from None
        lines.append(f"{qid} 0 {docid} {value}")
    return "\n".join(lines) + "\n"
