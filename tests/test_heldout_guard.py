"""No trainer of any plugin can see a held-out query: TrainingInput hands out no paths, its
examples() is the one place the held-out filter lives, and no plugin source reads training data
any other way."""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path

import rankfw_testplugin

from rankfw.core import StageContext, TrainingInput
from rankfw.data import JsonlCorpus, read_training

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = sorted(
    [*REPO.glob("plugins/*/rankfw_*/**/*.py"), *REPO.glob("examples/plugins/*/rankfw_*/**/*.py"),
     *REPO.glob("tests/plugin/rankfw_testplugin/**/*.py")]
)
BYPASSES = {"read_training", "irds_training", "heldout_qids", "is_heldout", "_training", "_excluded", "excluded_qids"}
"""Names that would reach training data (or the held-out set) around TrainingInput.examples()."""


def _examples(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for qid, query, text in rows:
            f.write(json.dumps({"query_id": qid, "query": query, "positive_passages": [{"docid": f"d-{qid}", "title": "", "text": text}],
                                "negative_passages": []}) + "\n")
    return path


def test_no_plugin_source_reads_training_data_around_the_training_input() -> None:
    assert len(PLUGIN_SOURCES) > 20
    for path in PLUGIN_SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not used & BYPASSES, f"{path.relative_to(REPO)} uses {sorted(used & BYPASSES)}"


def test_the_training_input_hands_out_no_paths_and_filters_every_source(tmp_path: Path) -> None:
    own = _examples(tmp_path / "train.jsonl.gz", [("q1", "kept", "alpha"), ("q2", "held", "canary")])
    other = _examples(tmp_path / "other.jsonl.gz", [("q2", "held elsewhere", "canary"), ("q3", "other", "beta")])
    (tmp_path / "c.jsonl").write_text('{"docid": "d1", "text": "x"}\n', encoding="utf-8")
    inp = TrainingInput("en", JsonlCorpus(tmp_path / "c.jsonl", tmp_path), training=str(own), excluded_qids=frozenset({"q2"}))
    public = {name: getattr(inp, name) for name in dir(inp) if not name.startswith("_")}
    assert not [n for n, v in public.items() if isinstance(v, (str, Path)) and n != "language"]
    assert [e.query_id for e in inp.examples()] == ["q1"]
    assert [e.query_id for e in inp.examples(str(other))] == ["q3"]  # a component's own source: filtered too
    assert [e.query_id for e in read_training(own)] == ["q1", "q2"]  # the file does hold the held-out query


def test_a_trainer_never_sees_the_held_out_queries(tmp_path: Path) -> None:
    train = _examples(tmp_path / "train.jsonl.gz", [("q1", "kept", "alpha beta"), ("q2", "held", "canary")])
    (tmp_path / "c.jsonl").write_text('{"docid": "d1", "text": "x"}\n', encoding="utf-8")
    inp = TrainingInput("en", JsonlCorpus(tmp_path / "c.jsonl", tmp_path), training=str(train), excluded_qids=frozenset({"q2"}))
    out = tmp_path / "model"
    out.mkdir()
    rankfw_testplugin.IdfTrainer().train([inp], out, StageContext("idf", None, tmp_path, tmp_path))
    idf = json.loads((out / "idf.json").read_text())
    assert "alpha" in idf and "canary" not in idf
