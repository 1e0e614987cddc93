"""Readers for topics, qrels, training data and parallel text; local files (in the formats of
:mod:`rankfw.data.formats`) or ``irds:`` ids.

Every reader reports malformed input as an :class:`InputError` naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator

from rankfw.core.errors import InputError, file_line
from rankfw.core.io import iter_lines
from rankfw.core.types import Qrels, Topics, TrainingExample
from rankfw.data.formats import get_format
from rankfw.data.irds import irds_errors, irds_training, is_irds, load_irds
from rankfw.data.parsers import document_from_dict

log = logging.getLogger("rankfw.data")


def read_topics(source: str | os.PathLike[str], format: str | None = None, field: str = "title") -> Topics:
    """Topics from a file in any format of :data:`~rankfw.data.formats.TOPICS_FORMATS` (TSV,
    JSONL, BEIR ``queries.jsonl``, TREC topics; ``format`` ``None`` detects it from the first line;
    ``field`` picks a TREC topic's ``title`` or ``desc``) or an ``irds:`` id. Empty topics and
    repeated qids are errors."""
    if is_irds(source):
        with irds_errors(str(source)):
            dataset = load_irds(str(source))
            if not dataset.has_queries():
                raise InputError("this ir_datasets dataset has no queries", str(source))
            topics = {q.query_id: q.text for q in dataset.queries_iter()}
    else:
        topics = {}
        reader = get_format("topics", format, source).reader
        for qid, query, where in reader(iter_lines(source), str(source), field):
            if qid in topics:
                raise InputError(f"query id {qid!r} appears twice", where)
            topics[qid] = query
    if not topics:
        raise InputError("no topics (the file is empty)", str(source))
    return topics


def read_qrels(source: str | os.PathLike[str], format: str | None = None) -> Qrels:
    """Qrels from TREC (``qid iteration docid relevance``) or BEIR (TSV with a ``query-id
    corpus-id score`` header) files (``format`` ``None`` detects it) or an ``irds:`` id.

    A (qid, docid) judged twice with the same grade is a warning; with another grade an error
    naming both lines.
    """
    qrels: Qrels = {}
    if is_irds(source):
        with irds_errors(str(source)):
            dataset = load_irds(str(source))
            if not dataset.has_qrels():
                raise InputError("this ir_datasets dataset has no qrels", str(source))
            for q in dataset.qrels_iter():
                qrels.setdefault(q.query_id, {})[q.doc_id] = int(q.relevance)
        return qrels
    reader = get_format("qrels", format, source).reader
    first_seen: dict[tuple[str, str], str] = {}
    repeated = 0
    for qid, docid, rel, where in reader(iter_lines(source), str(source)):
        try:
            grade = int(rel)
        except ValueError:
            raise InputError(f"relevance must be an integer, got {rel!r}", where) from None
        if not -(2**63) <= grade < 2**63:  # ir_measures' evaluators hold grades in int64
            raise InputError(f"relevance {rel} does not fit in a 64-bit integer", where)
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            earlier = first_seen[(qid, docid)]
            if judged[docid] != grade:
                raise InputError(f"({qid}, {docid}) is judged {grade} here and {judged[docid]} on line "
                                 f"{earlier.rsplit(':', 1)[1]}", where)
            repeated += 1
            continue
        judged[docid] = grade
        first_seen[(qid, docid)] = where
    if repeated:
        log.warning("warning: %s: %d (qid, docid) judgement(s) repeated with the same grade (kept once)", source, repeated)
    if not qrels:
        raise InputError("no judgements (the file is empty)", str(source))
    return qrels


def read_training(source: str | os.PathLike[str]) -> Iterator[TrainingExample]:
    """Training examples from MIRACL-train JSONL(.gz) or an ``irds:`` id.

    Through ir_datasets, positives are the judged-relevant documents and negatives the documents
    judged non-relevant (MIRACL judges both).
    """
    if is_irds(source):
        with irds_errors(str(source)):
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
