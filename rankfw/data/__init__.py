"""Data back-ends and readers: corpora (JSONL files, ir_datasets), topics, qrels, training data,
parallel text, and one language's sources as a spec names them."""

from rankfw.data.corpus import JsonlCorpus, document_from_dict, open_corpus
from rankfw.data.irds import IRDS_PREFIX, IrdsCorpus, is_irds, load_irds
from rankfw.data.readers import read_parallel, read_qrels, read_topics, read_training

__all__ = [
    "IRDS_PREFIX",
    "IrdsCorpus",
    "JsonlCorpus",
    "document_from_dict",
    "is_irds",
    "load_irds",
    "open_corpus",
    "read_parallel",
    "read_qrels",
    "read_topics",
    "read_training",
]
