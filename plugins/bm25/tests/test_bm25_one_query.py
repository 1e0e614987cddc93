"""One query at a time (as rankfw.Searcher calls it): the index is opened once per component, the
hits are the batch run's, and the component still pickles (for executors) without its searcher."""

from __future__ import annotations

import pickle
from pathlib import Path

from rankfw_bm25.retriever import BM25Config, BM25Retriever

from rankfw.data import JsonlCorpus, read_topics


def test_one_query_calls_reuse_the_open_searcher_and_match_the_batch(xquad_dir: Path, bm25_cache: Path, make_ctx) -> None:  # type: ignore[no-untyped-def]
    corpus = JsonlCorpus(xquad_dir / "de" / "corpus.jsonl", bm25_cache)
    topics = read_topics(xquad_dir / "de" / "topics.dev.tsv")
    retriever = BM25Retriever(BM25Config(k=50))
    ctx = make_ctx("de")
    batch = retriever.retrieve(topics, corpus, ctx)
    (searcher,) = retriever._searchers.values()
    for qid in list(topics)[:25]:
        one = retriever.retrieve({qid: topics[qid]}, corpus, ctx)
        assert list(one) == [qid] and one[qid] == batch[qid]
    assert list(retriever._searchers.values()) == [searcher]  # never reopened
    copy = pickle.loads(pickle.dumps(retriever))
    assert "_searchers" not in copy.__dict__ and copy.config == retriever.config
    first = next(iter(topics))
    assert copy.retrieve({first: topics[first]}, corpus, ctx)[first] == batch[first]
