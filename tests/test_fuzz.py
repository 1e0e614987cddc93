"""Fuzzing: any input to the spec loader or to a reader gives a valid object or an InputError."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import rankfw_testplugin
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankfw.core import InputError, Run
from rankfw.core.registry import load_registry
from rankfw.data import JsonlCorpus, read_parallel, read_qrels, read_topics, read_training
from rankfw.spec import parse_spec

REGISTRY = load_registry(extra_plugins=[("testplugin", rankfw_testplugin)], use_entry_points=False)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True), st.text(max_size=12))
_keys = st.sampled_from(["name", "output", "dataset", "stages", "metrics", "kind", "component", "params", "inputs",
                         "languages", "corpus", "topics", "k", "model", "holdout", "topics", "per_language", "x"])
_yamlish = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(_keys, inner, max_size=5)), max_leaves=25)


@FUZZ
@given(st.text(max_size=300))
def test_spec_loader_on_any_text(text: str) -> None:
    try:
        parse_spec(text, REGISTRY, source="fuzz.yaml")
    except InputError:
        pass


@FUZZ
@given(_yamlish)
def test_spec_loader_on_any_yaml_structure(data: object) -> None:
    base = {"dataset": {"languages": ["en"], "corpus": "c.jsonl", "topics": "t.tsv"},
            "stages": {"a": {"kind": "retrieve", "component": "overlap"}}}
    if isinstance(data, dict):
        base.update(data)
    try:
        parse_spec(yaml.safe_dump(base), REGISTRY, source="fuzz.yaml")
    except InputError:
        pass


def _file(content: bytes, suffix: str, folder: Path | None = None) -> Path:
    folder = folder or Path(tempfile.mkdtemp(prefix="rankfw-fuzz-"))
    path = folder / f"input{suffix}"
    path.write_bytes(gzip.compress(content) if suffix.endswith(".gz") else content)
    return path


_lines = st.lists(st.one_of(st.text(max_size=40), st.sampled_from([
    '{"docid": "d1", "title": "t", "text": "x"}', '{"docid": "d1", "text": 1}', "q1\tquery", "q1 0 d1 1",
    "q1 Q0 d1 1 1.5 t", '{"query": "q", "positive_passages": [], "negative_passages": []}', "a\tb", "\t", "{}",
])), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_lines, st.binary(max_size=20), st.sampled_from(["", ".gz"]))
def test_every_reader_on_any_file(lines: list[str], junk: bytes, gz: str) -> None:
    content = "\n".join(lines).encode("utf-8") + junk
    readers = [
        (".jsonl", lambda p: JsonlCorpus(p, p.parent / "cache").get_many([])),
        (".jsonl", lambda p: list(JsonlCorpus(p, p.parent / "cache2"))),
        (".tsv", read_topics), (".jsonl", read_topics), (".txt", read_qrels),
        (".jsonl", lambda p: list(read_training(p))), (".tsv", read_parallel), (".run", Run.read_trec),
    ]
    with tempfile.TemporaryDirectory(prefix="rankfw-fuzz-") as tmp:
        for i, (suffix, reader) in enumerate(readers):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            try:
                reader(_file(content, suffix + gz, folder))
            except InputError:
                pass


def test_readers_accept_good_input(tmp_path: Path) -> None:
    """The readers do accept good input (so the fuzz tests are not just catching everything)."""
    path = _file(json.dumps({"docid": "d1", "title": "t", "text": "x"}).encode(), ".jsonl", tmp_path)
    assert JsonlCorpus(path, path.parent / "c")["d1"].text == "x"
