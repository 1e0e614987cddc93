"""ir_datasets adapters: ``irds:<dataset id>`` sources for corpora, topics, qrels and training data."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
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


def irds_home() -> Path:
    """Where ir_datasets keeps its downloads (``$IR_DATASETS_HOME``, default ``~/.ir_datasets``)."""
    return Path(os.environ.get("IR_DATASETS_HOME") or Path.home() / ".ir_datasets").expanduser()


@contextmanager
def irds_errors(source: str) -> Iterator[None]:
    """Turn a failure inside ir_datasets (a download that fails offline, a broken file) into one
    :class:`InputError` that names the id and where the local cache is looked for."""
    try:
        yield
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever ir_datasets raises while fetching or reading
        first = (str(e).strip().splitlines() or [""])[0][:200]
        folder = irds_home() / source[len(IRDS_PREFIX) :].split("/")[0]
        raise InputError(
            f"ir_datasets could not read it ({type(e).__name__}: {first}); it is not complete in the local "
            f"cache ({folder}) and the download failed (needs the internet, or IR_DATASETS_HOME pointing at a copy)",
            source,
        ) from None


def irds_missing_files(source: str, parts: Iterable[str] = ("docs", "queries", "qrels")) -> list[Path]:
    """The files an ``irds:`` source needs (for ``parts``) that are not in the local cache.

    Reads only the dataset's description: nothing is downloaded. An unknown id is an
    :class:`InputError`.
    """
    dataset = load_irds(source)
    missing: list[Path] = []
    for part in parts:
        if not getattr(dataset, f"has_{part}")():
            continue
        for path in _download_paths(getattr(dataset, f"{part}_handler")()):
            if not path.exists() and path not in missing:
                missing.append(path)
    return missing


def _download_paths(root: Any) -> list[Path]:
    """The ``_cache_path`` of every ir_datasets ``Download`` reachable from ``root``'s attributes."""
    seen: set[int] = set()
    found: list[Path] = []
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > 12 or isinstance(obj, (str, bytes, int, float, Path)):
            continue
        seen.add(id(obj))
        cache_path = getattr(obj, "_cache_path", None) if type(obj).__name__ == "Download" else None
        if isinstance(cache_path, (str, Path)):
            found.append(Path(cache_path))
        children = list(obj.values()) if isinstance(obj, dict) else list(obj) if isinstance(obj, (list, tuple)) else list(getattr(obj, "__dict__", {}).values())
        stack.extend((child, depth + 1) for child in children)
    return found


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
        with irds_errors(self.source):
            for doc in self._dataset.docs_iter():
                yield irds_document(doc)

    def __len__(self) -> int:
        with irds_errors(self.source):
            count = self._dataset.docs_count()
            return int(count) if count is not None else sum(1 for _ in self._dataset.docs_iter())

    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(docids))
        with irds_errors(self.source):
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
