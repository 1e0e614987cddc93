"""Readers: corpus lookup by offset index, topics, qrels, training data, parallel text, ir_datasets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rankfw.core import InputError
from rankfw.data import JsonlCorpus, open_corpus, read_parallel, read_qrels, read_topics, read_training


def test_corpus_lookup_on_the_real_collection(xquad: Path, tmp_path: Path) -> None:
    corpus = JsonlCorpus(xquad / "de" / "corpus.jsonl", tmp_path)
    docs = corpus.get_many(["xq-00-0-1", "xq-00-0-0"])
    assert list(docs) == ["xq-00-0-1", "xq-00-0-0"]
    assert docs["xq-00-0-0"].title == "Super Bowl 50"
    first = next(iter(corpus))
    assert corpus[first.docid] == first
    assert len(corpus) == sum(1 for _ in corpus) > 500
    assert "xq-00-0-0" in corpus and "nope" not in corpus
    with pytest.raises(InputError, match="not in the corpus"):
        corpus.get_many(["xq-00-0-0", "missing-doc"])


def test_gzipped_corpus_reads_the_same(xquad: Path, tmp_path: Path) -> None:
    plain = xquad / "en" / "corpus.jsonl"
    gz = tmp_path / "corpus.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = JsonlCorpus(plain, tmp_path / "c1"), JsonlCorpus(gz, tmp_path / "c2")
    ids = [d.docid for d in a][::50]
    assert a.get_many(ids) == b.get_many(ids)
    assert a.fingerprint != b.fingerprint  # content hash of the file as given


def test_corpus_index_is_persisted_and_reused(xquad: Path, tmp_path: Path) -> None:
    JsonlCorpus(xquad / "en" / "corpus.jsonl", tmp_path).get_many(["xq-00-0-0"])
    index = list(tmp_path.rglob("docids.sqlite"))
    assert len(index) == 1
    mtime = index[0].stat().st_mtime_ns
    JsonlCorpus(xquad / "en" / "corpus.jsonl", tmp_path).get_many(["xq-00-0-1"])
    assert index[0].stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ('{"docid": "a", "text": "x"}\n{"docid": "a", "text": "y"}\n', 2, "duplicate docid 'a' \\(first on line 1\\)"),
        ('{"docid": "a", "text": "x"}\n{not json}\n', 2, "not valid JSON"),
        ('{"docid": "a"}\n', 1, "'text' must be a string"),
        ('{"docid": "has space", "text": "x"}\n', 1, "non-empty string without spaces"),
        ('[1, 2]\n', 1, "expected a JSON object"),
    ],
)
def test_malformed_corpus_names_file_and_line(tmp_path: Path, content: str, line: int, message: str) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        JsonlCorpus(path, tmp_path / "cache").get_many(["a"])
    assert e.value.where == f"{path}:{line}"


def test_non_utf8_and_truncated_gzip_are_input_errors(tmp_path: Path) -> None:
    bad = tmp_path / "topics.tsv"
    bad.write_bytes(b"q1\tfine\nq2\t\xff\xfe broken\n")
    with pytest.raises(InputError, match="UTF-8") as e:
        read_topics(bad)
    assert e.value.where == f"{bad}:2"
    truncated = tmp_path / "train.jsonl.gz"
    data = gzip.compress(b'{"query": "a", "positive_passages": []}\n' * 2000)
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip"):
        list(read_training(truncated))


def test_topics_tsv_and_jsonl(tmp_path: Path, xquad: Path) -> None:
    topics = read_topics(xquad / "en" / "topics.dev.tsv")
    assert len(topics) == 258
    assert topics["56de0daecffd8e1900b4b596"] == "Who was Count of Melfi"
    jl = tmp_path / "t.jsonl"
    jl.write_text('{"query_id": "1", "query": "hello"}\n{"qid": 2, "text": "world"}\n')
    assert read_topics(jl) == {"1": "hello", "2": "world"}


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [("", "no topics", None), ("q1\tone\nq1\ttwo\n", "appears twice", 2), ("q1 no tab\n", "2 tab-separated", 1),
     ("q1\t\n", "empty query", 1)],
)
def test_bad_topics(tmp_path: Path, content: str, message: str, line: int | None) -> None:
    path = tmp_path / "topics.tsv"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        read_topics(path)
    assert e.value.where == (f"{path}:{line}" if line else str(path))


def test_qrels(tmp_path: Path, xquad: Path) -> None:
    qrels = read_qrels(xquad / "en" / "qrels.dev.txt")
    assert qrels["56de0daecffd8e1900b4b596"] == {"xq-02-1-2": 1}
    bad = tmp_path / "q.txt"
    bad.write_text("q1 0 d1 1\nq1 0 d2 high\n")
    with pytest.raises(InputError, match="relevance must be an integer") as e:
        read_qrels(bad)
    assert e.value.where == f"{bad}:2"
    bad.write_text("q1 0 d1\n")
    with pytest.raises(InputError, match="4 columns"):
        read_qrels(bad)


def test_training_file(xquad: Path, tmp_path: Path) -> None:
    examples = list(read_training(xquad / "de" / "train.jsonl.gz"))
    assert len(examples) == 354
    ex = examples[0]
    assert ex.positives and ex.negatives and ex.query
    assert all(n.docid != ex.positives[0].docid for n in ex.negatives)
    bad = tmp_path / "train.jsonl"
    bad.write_text(json.dumps({"query": "q", "positive_passages": "nope"}) + "\n")
    with pytest.raises(InputError, match="must be lists") as e:
        list(read_training(bad))
    assert e.value.where == f"{bad}:1"


def test_parallel_text(xquad: Path, tmp_path: Path) -> None:
    pairs = read_parallel(xquad / "parallel" / "en-de.tsv")
    assert pairs[0] == ("How many points did the Panthers defense surrender?",
                        "Wie viele Punkte gab die Verteidigung der Panthers ab?")
    bad = tmp_path / "p.tsv"
    bad.write_text("one\ttwo\nonly one column\n")
    with pytest.raises(InputError, match="2 non-empty tab-separated") as e:
        read_parallel(bad)
    assert e.value.where == f"{bad}:2"
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"source": "cat", "target": "Katze"}\n')
    assert read_parallel(jl) == [("cat", "Katze")]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as e:
        read_qrels(tmp_path / "nope.txt")
    assert e.value.where == str(tmp_path / "nope.txt")


def test_ir_datasets_sources_offline(tmp_path: Path) -> None:
    """An ``irds:`` id reads corpus, topics, qrels and training examples through ir_datasets."""
    import ir_datasets

    (tmp_path / "docs.tsv").write_text("d1\tcats purr\nd2\tdogs bark\nd3\tfish swim\n")
    (tmp_path / "queries.tsv").write_text("q1\twhat purrs\nq2\twhat barks\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq1 0 d2 0\nq2 0 d2 1\n")
    dataset = ir_datasets.create_dataset(
        docs_tsv=str(tmp_path / "docs.tsv"), queries_tsv=str(tmp_path / "queries.tsv"), qrels_trec=str(tmp_path / "qrels.txt")
    )
    name = f"rankfw-test/{tmp_path.name}"
    ir_datasets.registry.register(name, dataset)
    source = f"irds:{name}"
    corpus = open_corpus(source, tmp_path)
    assert len(corpus) == 3 and corpus["d2"].text == "dogs bark"
    assert [d.docid for d in corpus] == ["d1", "d2", "d3"]
    assert read_topics(source) == {"q1": "what purrs", "q2": "what barks"}
    assert read_qrels(source) == {"q1": {"d1": 1, "d2": 0}, "q2": {"d2": 1}}
    examples = {ex.query_id: ex for ex in read_training(source)}
    assert [d.docid for d in examples["q1"].positives] == ["d1"]
    assert [d.docid for d in examples["q1"].negatives] == ["d2"]
    with pytest.raises(InputError, match="unknown ir_datasets id"):
        read_topics("irds:no/such/dataset")
