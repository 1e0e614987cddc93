"""Readers for topics, qrels, training data and parallel text; local files or ``irds:`` ids.

Every reader reports malformed input as an :class:`InputError` naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from rankfw.core.errors import InputError, file_line
from rankfw.core.io import iter_lines
from rankfw.core.types import Qrels, Topics, TrainingExample
from rankfw.data.corpus import document_from_dict
from rankfw.data.irds import irds_training, is_irds, load_irds


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
        if not -(2**63) <= qrels[qid][docid] < 2**63:  # ir_measures' evaluators hold grades in int64
            raise InputError(f"relevance {rel} does not fit in a 64-bit integer", where)
    if not qrels:
        raise InputError("no judgements (the file is empty)", str(source))
    return qrels


def read_training(source: str | os.PathLike[str]) -> Iterator[TrainingExample]:
    """Training examples from MIRACL-train JSONL(.gz) or an ``irds:`` id.

    Through ir_datasets, positives are the judged-relevant documents and negatives the documents
    judged non-relevant (MIRACL judges both).
    """
    if is_irds(source):
        yield from irds_training(str(source))
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
