"""Data formats: each corpus / topics / qrels format read (detected and named), and each error."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from rankfw.core import InputError
from rankfw.data import JsonlCorpus, read_parallel, read_qrels, read_topics, read_training
from rankfw.data.formats import CORPUS_FORMATS, FORMATS, QRELS_FORMATS, TOPICS_FORMATS, detect_format
from rankfw.spec.model import DatasetSpec

DOCS = [("d1", "Cats", "Cats purr and sleep."), ("d2", "Dogs", "Dogs bark."), ("d3", "Birds", "Birds sing.")]


def _corpus_lines(fmt: str) -> list[str]:
    if fmt == "rankfw":
        return [json.dumps({"docid": d, "title": t, "text": x}) for d, t, x in DOCS]
    if fmt == "beir":
        return [json.dumps({"_id": d, "title": t, "text": x, "metadata": {}}) for d, t, x in DOCS]
    if fmt == "pyserini":
        return [json.dumps({"id": d, "contents": x}) for d, _, x in DOCS]
    return [f"{d}\t{t}\t{x}" for d, t, x in DOCS]


def _write(path: Path, lines: list[str]) -> Path:
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("fmt", sorted(CORPUS_FORMATS))
def test_every_corpus_format_is_detected_indexed_and_looked_up(tmp_path: Path, fmt: str, gz: bool) -> None:
    path = _write(tmp_path / ("corpus.data" + (".gz" if gz else "")), _corpus_lines(fmt))
    assert detect_format("corpus", path) == fmt
    corpus = JsonlCorpus(path, tmp_path / "cache")
    assert corpus.format.name == fmt
    assert len(corpus) == 3
    doc = corpus.get_many(["d2"])["d2"]
    assert doc.text == "Dogs bark."
    assert doc.title == ("" if fmt == "pyserini" else "Dogs")
    assert [d.docid for d in corpus] == ["d1", "d2", "d3"]


def test_tsv_corpus_with_two_columns_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "collection.tsv"
    path.write_bytes("\ufeff0\tThe first passage.\n1\tThe second one.\n".encode())
    corpus = JsonlCorpus(path, tmp_path / "cache")
    assert corpus.format.name == "tsv"
    assert corpus.get_many(["0", "1"])["0"].text == "The first passage."  # not "\ufeff0"
    assert "\ufeff0" not in corpus


def test_pyserini_folder_of_jsonl_files(tmp_path: Path) -> None:
    folder = tmp_path / "collection"
    folder.mkdir()
    lines = _corpus_lines("pyserini")
    _write(folder / "docs00.jsonl", lines[:2])
    _write(folder / "docs01.jsonl.gz", lines[2:])
    (folder / "README.txt").write_text("not part of the corpus\n")
    corpus = JsonlCorpus(folder, tmp_path / "cache")
    assert corpus.format.name == "pyserini"
    assert len(corpus) == 3 and corpus.get_many(["d3", "d1"])["d3"].text == "Birds sing."
    before = corpus.fingerprint
    _write(folder / "docs01.jsonl.gz", [json.dumps({"id": "d3", "contents": "Birds fly."})])
    again = JsonlCorpus(folder, tmp_path / "cache")
    assert again.fingerprint != before and again["d3"].text == "Birds fly."


def test_folder_errors_name_the_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "collection"
    folder.mkdir()
    _write(folder / "a.jsonl", _corpus_lines("pyserini"))
    _write(folder / "b.jsonl", [json.dumps({"id": "d9", "contents": "x"}), json.dumps({"id": "d2", "contents": "again"})])
    with pytest.raises(InputError, match=rf"duplicate docid 'd2' \(first at {folder / 'a.jsonl'}:2\)") as e:
        JsonlCorpus(folder, tmp_path / "cache").validate()
    assert e.value.where == f"{folder / 'b.jsonl'}:2"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="corpus folder needs .jsonl"):
        JsonlCorpus(empty, tmp_path / "cache")


@pytest.mark.parametrize(
    ("fmt", "line", "message"),
    [
        ("rankfw", {"id": "d1", "contents": "x"},
         r"no 'docid' field \(this line has: id, contents; a pyserini corpus\? set formats.corpus: pyserini\)"),
        ("rankfw", {"name": "d1"}, r"no 'docid' field \(this line has: name\)"),
        ("pyserini", {"docid": "d1", "text": "x"},
         r"no 'id' field \(this line has: docid, text; a rankfw corpus\? set formats.corpus: rankfw\)"),
        ("beir", {"docid": "d1", "text": "x"}, r"no '_id' field \(this line has: docid, text; a rankfw corpus\?"),
        ("tsv", None, r"expected 'docid<TAB>text' or 'docid<TAB>title<TAB>text', got 4 column\(s\)"),
    ],
)
def test_missing_corpus_field_names_what_the_line_has(tmp_path: Path, fmt: str, line: dict | None, message: str) -> None:
    path = tmp_path / "corpus.jsonl"
    good = _corpus_lines(fmt)[0]
    _write(path, [good, json.dumps(line) if line else "a\tb\tc\td"])
    with pytest.raises(InputError, match=message) as e:
        JsonlCorpus(path, tmp_path / "cache", fmt).validate()
    assert e.value.where == f"{path}:2"


def test_a_detected_pyserini_line_is_not_called_malformed(tmp_path: Path) -> None:
    """The issue's case: pyserini's {"id", "contents"} read without a format is detected, not
    rejected with "'docid' must be a non-empty string"."""
    path = _write(tmp_path / "corpus.jsonl", _corpus_lines("pyserini"))
    assert JsonlCorpus(path, tmp_path / "cache")["d1"].text == "Cats purr and sleep."
    with pytest.raises(InputError, match="unknown corpus format 'json'"):
        JsonlCorpus(path, tmp_path / "cache", "json")


TOPIC_FILES = {
    "tsv": ["q1\twhich animals purr", "q2\twho barks"],
    "jsonl": [json.dumps({"qid": "q1", "query": "which animals purr"}), json.dumps({"id": "q2", "title": "who barks"})],
    "beir": [json.dumps({"_id": "q1", "text": "which animals purr", "metadata": {}}), json.dumps({"_id": "q2", "text": "who barks"})],
    "trec": ["<top>", "<num> Number: q1", "<title> which animals purr", "", "<desc> Description:", "Which animals",
             "make a purring sound?", "", "<narr> Narrative: cats.", "</top>", "", "<top>", "<num>q2</num>",
             "<title>who barks</title>", "<desc>Who barks at the mail carrier?</desc>", "</top>"],
}


@pytest.mark.parametrize("fmt", sorted(TOPICS_FORMATS))
def test_every_topics_format_is_detected_and_read(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path / "topics.gz", TOPIC_FILES[fmt])  # the name says nothing: detected from the line
    assert detect_format("topics", path) == fmt
    assert read_topics(path) == {"q1": "which animals purr", "q2": "who barks"}
    assert read_topics(path, fmt) == read_topics(path)


def test_trec_topics_description_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "topics.txt", TOPIC_FILES["trec"])
    assert read_topics(path, "trec", "desc") == {"q1": "Which animals make a purring sound?",
                                                 "q2": "Who barks at the mail carrier?"}


@pytest.mark.parametrize(
    ("lines", "message", "line"),
    [
        (["<top>", "<num> 1", "<title> cats"], r"the last <top> block is not closed", 1),
        (["<top>", "<title> cats", "</top>"], r"a topic without a <num>", 1),
        (["<top>", "<num> 1", "</top>"], r"topic '1' has no <title> text", 1),
        (["<top>", "<num> 1", "<title> a", "</top>", "<top>", "<num> 1", "<title> b", "</top>"], "appears twice", 5),
        (["<top>", "<num> 1", "<title> a", "<top>"], "opens before the previous one is closed", 4),
        (["<top>", "<num> 1", "<title> a", "</top>", "stray"], "text outside a <top> block", 5),
    ],
)
def test_bad_trec_topics(tmp_path: Path, lines: list[str], message: str, line: int) -> None:
    path = _write(tmp_path / "topics.txt", lines)
    with pytest.raises(InputError, match=message) as e:
        read_topics(path)
    assert e.value.where == f"{path}:{line}"


@pytest.mark.parametrize(
    ("fmt", "line", "message"),
    [
        ("jsonl", {"query": "cats"}, r"no query id field \('query_id', 'qid', '_id' or 'id'; this line has: query\)"),
        ("beir", {"id": "q1", "text": "cats"}, r"no query id field \('_id'; this line has: id, text\)"),
        ("jsonl", {"qid": "q1", "body": "x"}, r"no query text field"),
        ("jsonl", {"qid": "q1", "query": " "}, r"a non-empty string"),
    ],
)
def test_bad_json_topics(tmp_path: Path, fmt: str, line: dict, message: str) -> None:
    path = _write(tmp_path / "queries.jsonl", [json.dumps(line)])
    with pytest.raises(InputError, match=message) as e:
        read_topics(path, fmt)
    assert e.value.where == f"{path}:1"


@pytest.mark.parametrize("fmt", sorted(QRELS_FORMATS))
def test_every_qrels_format_is_detected_and_read(tmp_path: Path, fmt: str) -> None:
    lines = ["q1 0 d1 1", "q1 0 d2 0", "q2 0 d2 2"] if fmt == "trec" else \
        ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q1\td2\t0", "q2\td2\t2"]
    path = _write(tmp_path / "qrels.tsv", lines)
    assert detect_format("qrels", path) == fmt
    assert read_qrels(path) == {"q1": {"d1": 1, "d2": 0}, "q2": {"d2": 2}}


def test_bad_beir_qrels(tmp_path: Path) -> None:
    path = _write(tmp_path / "qrels.tsv", ["q1\td1\t1"])
    with pytest.raises(InputError, match="expected the BEIR header") as e:
        read_qrels(path, "beir")
    assert e.value.where == f"{path}:1"
    _write(path, ["query-id\tcorpus-id\tscore", "q1\td1"])
    with pytest.raises(InputError, match="expected 3 columns") as e:
        read_qrels(path)
    assert e.value.where == f"{path}:2"


def test_bom_is_not_part_of_the_first_id(tmp_path: Path) -> None:
    """Issue 18.5: a UTF-8 BOM (Excel, Notepad) in topics, qrels or training data is dropped."""
    topics = tmp_path / "topics.tsv"
    topics.write_bytes("\ufeffq1\tcats\nq2\tdogs\n".encode())
    assert list(read_topics(topics)) == ["q1", "q2"]
    qrels = tmp_path / "qrels.txt"
    qrels.write_bytes("\ufeffq1 0 d1 1\n".encode())
    assert read_qrels(qrels) == {"q1": {"d1": 1}}
    beir = tmp_path / "beir.tsv"
    beir.write_bytes("\ufeffquery-id\tcorpus-id\tscore\nq1\td1\t1\n".encode())
    assert read_qrels(beir) == {"q1": {"d1": 1}}
    train = tmp_path / "train.jsonl.gz"
    train.write_bytes(gzip.compress(("\ufeff" + json.dumps({"query_id": "t1", "query": "x"}) + "\n").encode()))
    assert [ex.query_id for ex in read_training(train)] == ["t1"]
    parallel = tmp_path / "en-de.tsv"
    parallel.write_bytes("\ufeffcat\tKatze\n".encode())
    assert read_parallel(parallel) == [("cat", "Katze")]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(("\ufeff" + _corpus_lines("rankfw")[0] + "\n").encode())
    assert JsonlCorpus(corpus, tmp_path / "cache")["d1"].title == "Cats"  # detected, indexed and read at offset 0


def test_repeated_qrels_judgements(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 18.5: the same grade twice is a warning; another grade is an error naming both lines."""
    path = _write(tmp_path / "qrels.txt", ["q1 0 d1 1", "q1 0 d2 0", "q1 0 d1 1"])
    with caplog.at_level(logging.WARNING, logger="rankfw.data"):
        assert read_qrels(path) == {"q1": {"d1": 1, "d2": 0}}
    assert "1 (qid, docid) judgement(s) repeated with the same grade" in caplog.text
    _write(path, ["q1 0 d1 1", "q1 0 d2 0", "q1 0 d1 2"])
    with pytest.raises(InputError, match=r"\(q1, d1\) is judged 2 here and 1 on line 1") as e:
        read_qrels(path)
    assert e.value.where == f"{path}:3"


def test_spec_formats_are_checked_against_the_table() -> None:
    spec = DatasetSpec.model_validate({"languages": ["en"], "corpus": "c", "topics": "t",
                                       "formats": {"corpus": "pyserini", "topics": "trec", "topic_field": "desc"}})
    assert spec.formats.corpus == "pyserini" and spec.formats.topic_field == "desc"
    with pytest.raises(ValueError, match=r"unknown qrels format 'tsv' \(one of: trec, beir\)"):
        DatasetSpec.model_validate({"languages": ["en"], "corpus": "c", "topics": "t", "formats": {"qrels": "tsv"}})
    assert set(FORMATS) == {"corpus", "topics", "qrels"}


def test_readme_data_section_lists_every_format_with_an_example() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Data") : readme.index("### Re-ranking an existing run")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    for kind, table in FORMATS.items():
        for name in table:
            assert any(row.startswith(f"| {kind} | `{name}`") and row.count("`") >= 4 for row in rows), (kind, name)


def test_spec_formats_reach_the_readers_and_the_cache_key(tmp_path: Path) -> None:
    from rankfw.data.language import LanguageData

    topics = _write(tmp_path / "topics.txt", TOPIC_FILES["trec"])
    corpus = _write(tmp_path / "corpus.tsv", _corpus_lines("tsv"))
    base = {"languages": ["en"], "corpus": str(corpus), "topics": str(topics)}
    title = LanguageData.from_spec(DatasetSpec.model_validate(base), "en", tmp_path / "cache")
    desc = LanguageData.from_spec(DatasetSpec.model_validate({**base, "formats": {"topic_field": "desc"}}), "en", tmp_path / "cache")
    assert title.topic_set("eval")[0]["q2"] == "who barks"
    assert desc.topic_set("eval")[0]["q2"] == "Who barks at the mail carrier?"
    assert title.fingerprint != desc.fingerprint  # a stage over other queries is another stage
    assert desc.corpus["d2"].title == "Dogs"
