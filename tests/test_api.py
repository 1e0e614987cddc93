"""The Python API: Pipeline from YAML / dicts / in-memory data, Result's DataFrames, Run <-> pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rankfw import Pipeline, Result
from rankfw.core import InputError, Run, read_qrels, read_topics
from rankfw.core.registry import Registry
from rankfw.run.compare import compare, systems_from_paths
from rankfw.run.evaluate import evaluate

STAGES = {
    "first": {"kind": "retrieve", "component": "overlap", "params": {"k": 50}},
    "idf": {"kind": "train", "component": "idf"},
    "re": {"kind": "rerank", "component": "idf-overlap", "inputs": ["first"], "params": {"model": "stage:idf", "k": 20}},
    "fused": {"kind": "fuse", "component": "sum", "inputs": ["first", "re"]},
}


def _spec(xquad: Path, out: Path, cache: Path, **dataset: object) -> dict:
    base = {"root": str(xquad), "languages": ["en", "de"], "corpus": "{root}/{lang}/corpus.jsonl",
            "topics": "{root}/{lang}/topics.dev.tsv", "qrels": "{root}/{lang}/qrels.dev.txt",
            "train": "{root}/{lang}/train.jsonl.gz"}
    return {"name": "api", "output": str(out), "cache": str(cache), "dataset": {**base, **dataset}, "stages": STAGES}


@pytest.fixture
def result(tmp_path: Path, xquad: Path, registry: Registry) -> Result:
    return Pipeline.from_dict(_spec(xquad, tmp_path / "out", tmp_path / "cache"), registry=registry).run()


def test_run_returns_the_runs_metrics_and_per_query_values(result: Result, xquad: Path, tmp_path: Path) -> None:
    assert set(result.runs) == {"first", "re", "fused"} and set(result.runs["re"]) == {"en", "de"}
    on_disk = Run.read_trec(tmp_path / "out" / "stages" / "re" / "de.run")
    assert result.runs["re"]["de"].scores() == on_disk.scores()
    qrels = read_qrels(xquad / "de" / "qrels.dev.txt")
    metrics = result.metrics
    assert list(metrics.columns) == ["stage", "language", "measure", "value"]
    row = metrics[(metrics.stage == "re") & (metrics.language == "de") & (metrics.measure == "nDCG@10")]
    assert row.value.item() == pytest.approx(evaluate(on_disk, qrels, ["nDCG@10"])["nDCG@10"])
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert len(metrics) == sum(len(s["languages"]) * len(saved["measures"]) for s in saved["stages"].values())
    # per query: every judged query of every eval stage, and their means are the metrics
    per_query = result.per_query
    assert list(per_query.columns) == ["stage", "language", "measure", "qid", "value"]
    judged = [q for q, d in qrels.items() if any(r > 0 for r in d.values())]
    de_re = per_query[(per_query.stage == "re") & (per_query.language == "de") & (per_query.measure == "nDCG@10")]
    assert sorted(de_re.qid) == sorted(judged)
    means = per_query.groupby(["stage", "language", "measure"]).value.mean()
    for r in metrics.itertuples():
        assert means[(r.stage, r.language, r.measure)] == pytest.approx(r.value)
    assert per_query.value.between(0, 1).all() and per_query.value.std() > 0


def test_compare_gives_the_same_tests_as_rankfw_compare(result: Result, xquad: Path, tmp_path: Path) -> None:
    table = result.compare(baseline="first")
    qrels = {lang: read_qrels(xquad / lang / "qrels.dev.txt") for lang in ("en", "de")}
    expected = compare(systems_from_paths([tmp_path / "out"]), qrels, ["nDCG@10", "R@100"], "first")
    assert set(table.system) == {"first", "re", "fused"}
    for r in table.itertuples():
        assert r.value == pytest.approx(expected.values[r.system][r.language][r.measure])
        if r.language != "mean" and r.system != "first":
            assert r.p_value == pytest.approx(expected.p_values[r.system][r.language][r.measure])
            assert r.significant == expected.mark(r.system, r.language, r.measure)
    # the IDF re-ranker beats raw term overlap significantly in both languages
    wins = table[(table.system == "re") & (table.measure == "nDCG@10") & (table.language != "mean")]
    assert list(wins.significant) == ["+", "+"]
    with pytest.raises(InputError, match="unknown baseline"):
        result.compare(baseline="nope")


def test_in_memory_corpus_topics_and_qrels_give_the_same_runs_as_the_files(
    tmp_path: Path, xquad: Path, registry: Registry, result: Result
) -> None:
    corpus = {lang: [json.loads(line) for line in (xquad / lang / "corpus.jsonl").open(encoding="utf-8")]
              for lang in ("en", "de")}
    topics = pd.DataFrame([{"qid": q, "query": t, "language": lang} for lang in ("en", "de")
                           for q, t in read_topics(xquad / lang / "topics.dev.tsv").items()])
    qrels = pd.DataFrame([{"qid": q, "docno": d, "label": r, "language": lang} for lang in ("en", "de")
                          for q, docs in read_qrels(xquad / lang / "qrels.dev.txt").items() for d, r in docs.items()])
    spec = _spec(xquad, tmp_path / "mem", tmp_path / "cache", corpus=corpus, topics=topics, qrels=qrels)
    memory = Pipeline.from_dict(spec, registry=registry).run()
    for stage in ("first", "re", "fused"):
        for lang in ("en", "de"):
            assert memory.runs[stage][lang].scores() == result.runs[stage][lang].scores()
    pd.testing.assert_frame_equal(memory.metrics, result.metrics)
    written = sorted((tmp_path / "cache" / "inputs").iterdir())
    assert len(written) == 6  # corpus, topics, qrels per language, named by their content
    again = Pipeline.from_dict(spec, registry=registry)  # same data: same files, nothing rewritten
    assert sorted((tmp_path / "cache" / "inputs").iterdir()) == written
    assert again.planned.spec.dataset.corpus == Pipeline.from_dict(spec, registry=registry).planned.spec.dataset.corpus


def test_bad_in_memory_data_is_a_one_line_input_error(tmp_path: Path, xquad: Path, registry: Registry) -> None:
    bad = _spec(xquad, tmp_path / "o", tmp_path / "c", corpus=[{"docid": "a b", "text": "x"}])
    with pytest.raises(InputError, match="dataset.corpus row 0.*docid.*without spaces"):
        Pipeline.from_dict(bad, registry=registry)
    with pytest.raises(InputError, match="no qid"):
        Pipeline.from_dict(_spec(xquad, tmp_path / "o", tmp_path / "c", topics=[{"query": "x"}]), registry=registry)
    with pytest.raises(InputError, match="stages.first.params.k"):
        spec = _spec(xquad, tmp_path / "o", tmp_path / "c")
        spec["stages"] = {**STAGES, "first": {**STAGES["first"], "params": {"k": 0}}}
        Pipeline.from_dict(spec, registry=registry)


def test_from_yaml_with_overrides_and_result_from_output(tmp_path: Path, xquad: Path, registry: Registry,
                                                         write_spec, result: Result) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "y", "  first: {kind: retrieve, component: overlap}\n")
    pipeline = Pipeline.from_yaml(spec, overrides=["stages.first.params.k=7"], registry=registry)
    assert pipeline.stages == ["first"] and pipeline.languages == ["en", "de"]
    runs = pipeline.run(cache=tmp_path / "cache").runs
    assert max(len(h) for h in runs["first"]["en"].values()) == 7
    loaded = Result.from_output(tmp_path / "out", registry=registry)
    pd.testing.assert_frame_equal(loaded.metrics, result.metrics)
    assert loaded.runs["fused"]["en"].scores() == result.runs["fused"]["en"].scores()


def test_run_only_some_stages(tmp_path: Path, xquad: Path, registry: Registry) -> None:
    result = Pipeline.from_dict(_spec(xquad, tmp_path / "out", tmp_path / "cache"), registry=registry).run(only=["first"])
    assert set(result.runs) == {"first"}
    assert not (tmp_path / "out" / "stages" / "re").exists()


def test_run_with_a_query_limit(tmp_path: Path, xquad: Path, registry: Registry) -> None:
    result = Pipeline.from_dict(_spec(xquad, tmp_path / "out", tmp_path / "cache"), registry=registry).run(limit=5)
    assert all(len(run) == 5 for runs in result.runs.values() for run in runs.values())
    assert result.per_query.groupby(["stage", "language", "measure"]).size().max() <= 5


def test_run_to_and_from_pandas_with_pyterrier_columns() -> None:
    run = Run.from_scores({"q1": {"b": 1.0, "a": 1.0, "c": 3.5}, "q2": {"x": -2.0}})
    frame = run.to_pandas()
    assert list(frame.columns) == ["qid", "docno", "score", "rank"]
    assert frame.values.tolist() == [["q1", "c", 3.5, 0], ["q1", "a", 1.0, 1], ["q1", "b", 1.0, 2], ["q2", "x", -2.0, 0]]
    shuffled = frame.sample(frac=1.0, random_state=1).drop(columns=["rank"])
    back = Run.from_pandas(shuffled)
    assert dict(back) == dict(run)  # ranks rebuilt from the scores (ties by docno), whatever the row order
    assert Run().to_pandas().empty
    assert list(Run({"q1": [("a", 1.0)], "q0": []}).to_pandas().qid) == ["q1"]  # no row for a query without hits
    with pytest.raises(InputError, match="lacks the column.*score"):
        Run.from_pandas(frame.drop(columns=["score"]))
    with pytest.raises(InputError, match="row 4.*appears twice"):
        Run.from_pandas(pd.concat([frame, frame.iloc[[0]]], ignore_index=True))
    with pytest.raises(InputError, match="not finite"):
        Run.from_pandas(frame.assign(score=[1.0, float("nan"), 0.0, 0.0]))


def test_import_rankfw_stays_light() -> None:
    code = ("import sys, rankfw; rankfw.Pipeline; rankfw.Searcher; "
            "heavy = [m for m in ('pandas', 'torch', 'jnius', 'pyserini', 'sentence_transformers') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
