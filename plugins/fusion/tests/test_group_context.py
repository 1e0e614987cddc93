"""The group-context re-ranker: a passage's score fused with its group's best, on real runs and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rankfw_fusion
from rankfw_fusion.context import GroupContextConfig, GroupContextReranker

from rankfw.core import InputError, Run, StageContext
from rankfw.core.registry import load_registry
from rankfw.data.corpus import JsonlCorpus
from rankfw.run.runner import Runner
from rankfw.spec import load_spec
from rankfw.testing.contracts import RerankerContract

PARAGRAPH = "docid:^(xq-\\d+-\\d+)-"
REPO = Path(__file__).resolve().parents[3]
SHARED_XQUAD = REPO.parent / "shared" / "data" / "xquad"
XQUAD = SHARED_XQUAD if SHARED_XQUAD.is_dir() else REPO / "data" / "xquad"


class TestGroupContext(RerankerContract):
    @pytest.fixture
    def make(self) -> Any:
        return lambda k=None: GroupContextReranker(GroupContextConfig(group_by=PARAGRAPH, k=k))


def _ctx(tmp_path: Path) -> StageContext:
    return StageContext("ctx", "en", tmp_path, tmp_path)


def _rerank(run: Run, tmp_path: Path, corpus: Any = None, **config: Any) -> Run:
    return GroupContextReranker(GroupContextConfig(**{"group_by": PARAGRAPH, **config})).rerank({}, run, corpus, _ctx(tmp_path))


def test_a_sentence_whose_paragraph_matched_moves_above_a_stray_sentence(tmp_path: Path) -> None:
    run = Run.from_scores({"q": {"xq-01-0-0": 5.0, "xq-02-3-1": 4.25, "xq-01-0-2": 4.0, "xq-03-0-0": 0.0}})
    out = _rerank(run, tmp_path, weight=0.5)
    # min-max: 1, .85, .8, 0; the paragraph xq-01-0's best is 1, so its second sentence gets .5*.8 + .5*1
    assert [d for d, _ in out["q"]] == ["xq-01-0-0", "xq-01-0-2", "xq-02-3-1", "xq-03-0-0"]
    assert [s for _, s in out["q"]] == pytest.approx([1.0, 0.9, 0.85, 0.0])
    assert [d for d, _ in _rerank(run, tmp_path, weight=0.0)["q"]] == [d for d, _ in run["q"]]  # weight 0: unchanged
    assert [d for d, _ in _rerank(run, tmp_path, weight=0.5, k=2)["q"]] == ["xq-01-0-0", "xq-01-0-2"]


def test_title_groups_come_from_the_corpus(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    docs = [("a", "Alps"), ("b", "Nile"), ("c", "Alps")]
    path.write_text("".join(json.dumps({"docid": d, "title": t, "text": "x"}) + "\n" for d, t in docs), encoding="utf-8")
    run = Run.from_scores({"q": {"a": 1.0, "b": 0.6, "c": 0.5}})
    out = _rerank(run, tmp_path, JsonlCorpus(path, tmp_path / "cache"), group_by="title", weight=0.5)
    # min-max: a 1, b .2, c 0; c shares a's title: .5 * 0 + .5 * 1 = .5 lifts it over b (alone in its group)
    assert [d for d, _ in out["q"]] == ["a", "c", "b"]
    assert [s for _, s in out["q"]] == pytest.approx([1.0, 0.5, 0.2])


def test_a_docid_the_rule_misses_is_an_input_error_naming_the_parameter(tmp_path: Path) -> None:
    run = Run.from_scores({"q": {"xq-01-0-0": 1.0, "doc7": 0.5}})
    with pytest.raises(InputError) as caught:
        _rerank(run, tmp_path)
    assert "'doc7'" in str(caught.value) and caught.value.where == "stages.ctx.params.group_by"


@pytest.mark.parametrize(("group_by", "problem"), [("query", "groups nothing"), ("paragraph", "unknown group_by"), ("docid:^xq-", "capture group"),
                                                    ("docid:(", "bad regular expression")])
def test_bad_group_rules_are_refused(group_by: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        GroupContextConfig(group_by=group_by)


SPEC = """\
name: context-test
output: {out}
dataset:
  root: {root}
  languages: [en, de]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
metrics: [nDCG@10]
stages:
  first: {{kind: retrieve, component: overlap, params: {{k: 50}}}}
  ctx: {{kind: rerank, component: group-context, inputs: [first], params: {{group_by: 'docid:^(xq-\\d+-\\d+)-', weight: 0.5}}}}
"""


def test_paragraph_context_in_a_pipeline_lifts_a_lexical_run_on_xquad(tmp_path: Path) -> None:
    testplugin = pytest.importorskip("rankfw_testplugin")
    registry = load_registry(extra_plugins=[("testplugin", testplugin), ("fusion", rankfw_fusion)], use_entry_points=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(out=tmp_path / "out", root=XQUAD), encoding="utf-8")
    result = Runner(load_spec(spec, registry, []), cache_dir=tmp_path / "cache").run()
    for lang in ("en", "de"):
        first = Run.read_trec(tmp_path / "out" / "stages" / "first" / f"{lang}.run")
        written = Run.read_trec(tmp_path / "out" / "stages" / "ctx" / f"{lang}.run")
        assert {q: [d for d, _ in h] for q, h in written.items()} == {
            q: [d for d, _ in h] for q, h in _rerank(first, tmp_path, weight=0.5).items()}
        scores = result.metrics["stages"]
        # questions are asked of paragraphs: their evidence helps a word-overlap run
        assert scores["ctx"]["languages"][lang]["nDCG@10"] > scores["first"]["languages"][lang]["nDCG@10"]
