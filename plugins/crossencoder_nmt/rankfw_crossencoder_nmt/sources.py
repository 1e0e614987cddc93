"""English training examples: MIRACL-train files, ir_datasets with qrels, or ir_datasets docpairs
(e.g. ``irds:msmarco-passage/train/triples-small``: query, positive, negative)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from rankfw.core import Document, TrainingExample, is_irds, load_irds, read_training


def read_examples(source: str, limit: int | None = None) -> Iterator[TrainingExample]:
    """Training examples from ``source``, at most ``limit`` of them."""
    examples = _docpair_examples(source) if is_irds(source) and _has_docpairs(source) else read_training(source)
    return itertools.islice(examples, limit) if limit is not None else examples


def _has_docpairs(source: str) -> bool:
    dataset = load_irds(source)
    return bool(dataset.has_docpairs()) and not bool(dataset.has_qrels())


def _docpair_examples(source: str) -> Iterator[TrainingExample]:
    """Consecutive docpairs of one query become one example (its positive, its negatives)."""
    dataset = load_irds(source)
    queries = dataset.queries_store() if hasattr(dataset, "queries_store") else None
    query_text: dict[str, str] = {} if queries is not None else {q.query_id: q.text for q in dataset.queries_iter()}
    docs = dataset.docs_store()
    for qid, pairs in itertools.groupby(dataset.docpairs_iter(), key=lambda p: p.query_id):
        pairs = list(pairs)
        found = docs.get_many({p.doc_id_a for p in pairs} | {p.doc_id_b for p in pairs})
        text = queries.get(qid).text if queries is not None else query_text[qid]

        def doc(docid: str) -> Document:
            d = found[docid]
            return Document(d.doc_id, getattr(d, "title", "") or "", d.text)

        positives = list({p.doc_id_a: doc(p.doc_id_a) for p in pairs if p.doc_id_a in found}.values())
        negatives = list({p.doc_id_b: doc(p.doc_id_b) for p in pairs if p.doc_id_b in found}.values())
        yield TrainingExample(qid, text, positives, negatives)
