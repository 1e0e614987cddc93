"""ir_datasets adapters: ``irds:<dataset id>`` sources for corpora, topics, qrels and training data."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.io import text_digest
from rankfw.core.types import Corpus, Document, Qrels, TrainingExample

IRDS_PREFIX = "irds:"

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
            yield irds_document(doc)

    def __len__(self) -> int:
        count = self._dataset.docs_count()
        return int(count) if count is not None else sum(1 for _ in self._dataset.docs_iter())

    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        found = self._dataset.docs_store().get_many(wanted)
        missing = [d for d in wanted if d not in found]
        if missing:
            raise InputError(f"{len(missing)} docid(s) not in the corpus, e.g. {missing[0]!r}", self.source)
        return {d: irds_document(found[d]) for d in wanted}


def irds_document(doc: Any) -> Document:
    return Document(doc.doc_id, getattr(doc, "title", "") or "", getattr(doc, "text", "") or "")


def irds_training(source: str) -> Iterator[TrainingExample]:
    """Training examples of an ir_datasets id: from its qrels (positives judged relevant,
    negatives judged non-relevant), or from its docpairs when it has no qrels (e.g.
    ``irds:msmarco-passage/train/triples-small``: query, positive, negative)."""
    dataset = load_irds(source)
    if dataset.has_docpairs() and not dataset.has_qrels():
        yield from _docpair_examples(dataset)
        return
    qrels: Qrels = {}
    for q in dataset.qrels_iter():
        qrels.setdefault(q.query_id, {})[q.doc_id] = int(q.relevance)
    store = dataset.docs_store()
    for query in dataset.queries_iter():
        judged = qrels.get(query.query_id, {})
        docs = {d.doc_id: irds_document(d) for d in store.get_many(list(judged)).values()}
        yield TrainingExample(
            query_id=query.query_id,
            query=query.text,
            positives=[docs[d] for d, r in judged.items() if r > 0 and d in docs],
            negatives=[docs[d] for d, r in judged.items() if r <= 0 and d in docs],
        )


def _docpair_examples(dataset: Any) -> Iterator[TrainingExample]:
    """Consecutive docpairs of one query become one example (its positives, its negatives)."""
    import itertools

    queries = dataset.queries_store() if hasattr(dataset, "queries_store") else None
    query_text: dict[str, str] = {} if queries is not None else {q.query_id: q.text for q in dataset.queries_iter()}
    docs = dataset.docs_store()
    for qid, group in itertools.groupby(dataset.docpairs_iter(), key=lambda p: p.query_id):
        pairs = list(group)
        found = {d: irds_document(doc) for d, doc in docs.get_many({p.doc_id_a for p in pairs} | {p.doc_id_b for p in pairs}).items()}
        text = queries.get(qid).text if queries is not None else query_text[qid]
        positives = list({p.doc_id_a: found[p.doc_id_a] for p in pairs if p.doc_id_a in found}.values())
        negatives = list({p.doc_id_b: found[p.doc_id_b] for p in pairs if p.doc_id_b in found}.values())
        yield TrainingExample(qid, text, positives, negatives)
