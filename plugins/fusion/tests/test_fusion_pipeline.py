"""Fusion stages in a spec: over runs of other stages, with weights tuned on held-out queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rankfw_fusion
from rankfw_fusion.rrf import RRFFuser
from rankfw_fusion.weighted import WeightedFuser

from rankfw.core import Run
from rankfw.core.registry import load_registry
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

testplugin = pytest.importorskip("rankfw_testplugin")

REPO = Path(__file__).resolve().parents[3]
SHARED_XQUAD = REPO.parent / "shared" / "data" / "xquad"
XQUAD = SHARED_XQUAD if SHARED_XQUAD.is_dir() else REPO / "data" / "xquad"

SPEC = """\
name: fusion-test
output: {out}
dataset:
  root: {root}
  languages: [en, de]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
  train: "{{root}}/{{lang}}/train.jsonl.gz"
  holdout: 0.2
metrics: [nDCG@10]
stages:
  first: {{kind: retrieve, component: overlap, params: {{k: 30}}}}
  idf: {{kind: train, component: idf}}
  re: {{kind: rerank, component: idf-overlap, inputs: [first], params: {{model: "stage:idf", k: 20}}}}
  first_h: {{kind: retrieve, component: overlap, topics: heldout, params: {{k: 30}}}}
  re_h: {{kind: rerank, component: idf-overlap, topics: heldout, inputs: [first_h], params: {{model: "stage:idf", k: 20}}}}
  tune: {{kind: train, component: fusion-weights, topics: heldout, inputs: [first_h, re_h], params: {{step: 0.25}}}}
  rrf: {{kind: fuse, component: rrf, inputs: [first, re]}}
  wsum: {{kind: fuse, component: weighted, inputs: [first, re], params: {{weights: "stage:tune", k: 10}}}}
"""


def test_fusion_stages_in_a_pipeline(tmp_path: Path) -> None:
    registry = load_registry(
        extra_plugins=[("testplugin", testplugin), ("fusion", rankfw_fusion)], use_entry_points=False
    )
    spec = tmp_path / "spec.yaml"
    out = tmp_path / "out"
    spec.write_text(SPEC.format(out=out, root=XQUAD), encoding="utf-8")
    result = Runner(load_spec(spec, registry, []), cache_dir=tmp_path / "cache").run()

    tuned = json.loads((out / "stages" / "tune" / "model" / "weights.json").read_text())
    assert tuned["runs"] == ["first_h", "re_h"] and tuned["grid_size"] == 5
    assert set(tuned["scores_by_language"]) == {"en", "de"}
    for lang in ("en", "de"):
        first = Run.read_trec(out / "stages" / "first" / f"{lang}.run")
        re = Run.read_trec(out / "stages" / "re" / f"{lang}.run")
        # the written fused runs are exactly the fusers' output on the written input runs
        rrf = Run.read_trec(out / "stages" / "rrf" / f"{lang}.run")
        assert dict(rrf) == dict(RRFFuser().fuse([first, re], _ctx(tmp_path, lang)))
        wsum = Run.read_trec(out / "stages" / "wsum" / f"{lang}.run")
        weighted = WeightedFuser(WeightedFuser.Config(weights=tuned["weights"], k=10))
        expected = weighted.fuse([first, re], _ctx(tmp_path, lang))
        assert {q: [d for d, _ in h] for q, h in wsum.items()} == {q: [d for d, _ in h] for q, h in expected.items()}
        assert max(len(h) for h in wsum.values()) == 10
    metrics = result.metrics["stages"]
    # the tuned fusion is at least as good as the worse of its inputs in every language
    for lang in ("en", "de"):
        worse = min(metrics[s]["languages"][lang]["nDCG@10"] for s in ("first", "re"))
        assert metrics["wsum"]["languages"][lang]["nDCG@10"] >= worse


def _ctx(tmp_path: Path, lang: str):  # type: ignore[no-untyped-def]
    from rankfw.core import StageContext

    return StageContext("x", lang, tmp_path, tmp_path)
