"""Resume is byte-identical: a run is the same in memory and read back from its TREC file (qids
in canonical order, queries without hits dropped both times), so a stage computed from a fresh
input and one computed after a resume write the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import rankfw_testplugin

from rankfw.core import Run
from rankfw.core.components import StageContext
from rankfw.core.registry import Registry
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 3}}
  second: {kind: retrieve, component: overlap, params: {k: 2}}
  fused: {kind: fuse, component: sum, inputs: [first, second]}
"""


def _fuse_in_input_order(self, runs: Sequence[Run], ctx: StageContext) -> Run:  # type: ignore[no-untyped-def]
    """Like the fusion plugin: every query any input lists, in the order the inputs list them."""
    qids = list(dict.fromkeys(q for run in runs for q in run))
    return Run.from_ranked({q: [(d, s + 0.5) for run in runs for d, s in run.get(q, [])][:1] for q in qids})


def test_a_run_reads_back_as_it_is_kept_in_memory(tmp_path: Path) -> None:
    run = Run.from_scores({"q9": {"d1": 1.0}, "q1": {}, "q10": {"d2": 2.0, "d3": 3.0}, "q2": {"d1": 0.5}})
    run.write_trec(tmp_path / "r.run")
    back = Run.read_trec(tmp_path / "r.run")
    assert list(back.items()) == list(run.canonical().items())
    assert list(back) == ["q10", "q2", "q9"]
    assert back.to_trec() == run.to_trec() == run.canonical().to_trec()


def test_a_stage_after_a_resume_writes_the_same_bytes(tmp_path: Path, tiny: Path, registry: Registry, write_spec,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for lang in ("en", "de"):  # z1 matches nothing: empty in memory, absent on disk
        topics = tiny / lang / "topics.dev.tsv"
        topics.write_text("z1\tqqqq xxxx\n" + topics.read_text(encoding="utf-8") + "z0\tcats dogs katzen hunde\n", encoding="utf-8")
    monkeypatch.setattr(rankfw_testplugin.SumFuser, "fuse", _fuse_in_input_order)
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    runner = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
    runner.run()
    fresh = {lang: (tmp_path / "out/stages/fused" / f"{lang}.run").read_bytes() for lang in ("en", "de")}
    for lang in ("en", "de"):  # what the next stage got in memory is what it would read from disk
        assert list(runner.input_run("first", lang).items()) == list(Run.read_trec(runner.run_path("first", lang)).items())
    for path in (tmp_path / "out/stages/fused").rglob("*"):  # resume with the retrievers done: fused from disk
        if path.is_file():
            path.unlink()
    resumed = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
    report = resumed.run()
    assert report.stages["first"].cached == ["en", "de"] and report.stages["fused"].computed == ["en", "de"]
    for lang in ("en", "de"):
        assert (tmp_path / "out/stages/fused" / f"{lang}.run").read_bytes() == fresh[lang]
    assert b"z1 " not in fresh["en"] and fresh["en"].startswith(b"q1 ")
