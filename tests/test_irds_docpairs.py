"""Training data from ir_datasets docpairs (MS MARCO triples) become training examples (rankfw.data)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import pytest

import rankfw.data.irds as irds
from rankfw.data import read_training

Pair = namedtuple("Pair", "query_id doc_id_a doc_id_b")
Query = namedtuple("Query", "query_id text")
Doc = namedtuple("Doc", "doc_id text")


class FakeTriples:
    """A stand-in for ``irds:msmarco-passage/train/triples-small`` (no qrels, docpairs)."""

    def has_docpairs(self) -> bool:
        return True

    def has_qrels(self) -> bool:
        return False

    def docpairs_iter(self) -> Any:
        return iter([Pair("q1", "d1", "d2"), Pair("q1", "d1", "d3"), Pair("q2", "d4", "d1")])

    def queries_iter(self) -> Any:
        return iter([Query("q1", "what is a cat"), Query("q2", "who wrote hamlet")])

    def docs_store(self) -> Any:
        docs = {d: Doc(d, f"text of {d}") for d in ("d1", "d2", "d3", "d4")}

        class Store:
            def get_many(self, ids: Any) -> dict[str, Doc]:
                return {i: docs[i] for i in ids}

        return Store()


def test_docpairs_become_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(irds, "load_irds", lambda source: FakeTriples())
    examples = list(read_training("irds:msmarco-passage/train/triples-small"))
    assert [(e.query_id, e.query) for e in examples] == [("q1", "what is a cat"), ("q2", "who wrote hamlet")]
    assert [p.docid for p in examples[0].positives] == ["d1"]
    assert [n.docid for n in examples[0].negatives] == ["d2", "d3"]
    assert examples[0].positives[0].text == "text of d1"
