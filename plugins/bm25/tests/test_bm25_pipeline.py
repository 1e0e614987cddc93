"""The bm25 retriever run from a pipeline spec, as `rankfw run` does it."""

from __future__ import annotations

from pathlib import Path

import rankfw_bm25

from rankfw.core import Run
from rankfw.core.registry import load_registry
from rankfw.run.runner import Runner
from rankfw.spec import parse_spec

from .conftest import reference_ndcg

SPEC = """
name: bm25-test
dataset:
  root: {root}
  languages: [en, th]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
metrics: [nDCG@10, R@100]
stages:
  bm25: {{kind: retrieve, component: bm25, params: {{k: 100, threads: 2}}}}
"""


def test_spec_runs_bm25_per_language_and_resumes(xquad_dir: Path, bm25_cache: Path, tmp_path: Path) -> None:
    registry = load_registry(extra_plugins=[("bm25-test", rankfw_bm25)], use_entry_points=False)
    pipeline = parse_spec(SPEC.format(root=xquad_dir), registry, source="bm25-test.yaml")
    runner = Runner(pipeline, output_dir=tmp_path / "out", cache_dir=bm25_cache)
    result = runner.run()

    ndcg = {lang: v["nDCG@10"] for lang, v in result.metrics["stages"]["bm25"]["languages"].items()}
    assert abs(ndcg["en"] - reference_ndcg()["en"]) <= 0.005
    assert ndcg["th"] > 0.75
    paths = {lang: runner.run_path("bm25", lang) for lang in ("en", "th")}
    for path in paths.values():
        run = Run.read_trec(path)
        assert len(run) == 258 and all(0 < len(hits) <= 100 for hits in run.values())

    # a second run reuses the finished stage: the run files are not rewritten
    before = {lang: path.stat().st_mtime_ns for lang, path in paths.items()}
    Runner(pipeline, output_dir=tmp_path / "out", cache_dir=bm25_cache).run()
    assert {lang: path.stat().st_mtime_ns for lang, path in paths.items()} == before
