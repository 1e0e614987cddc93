"""The runner: stages in order, real runs and metrics, caching, resume after SIGKILL, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankfw.core import InputError, Run, StageError
from rankfw.core.registry import Registry
from rankfw.data import read_qrels
from rankfw.data.language import is_heldout
from rankfw.run import done
from rankfw.run.evaluate import evaluate
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

FULL = """\
  first: {kind: retrieve, component: overlap, params: {k: 50}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
"""


def _run(spec: Path, registry: Registry, cache: Path, **kwargs) -> Runner:  # type: ignore[no-untyped-def]
    runner = Runner(load_spec(spec, registry, kwargs.pop("overrides", [])), cache_dir=cache, **kwargs)
    runner.result = runner.run()  # type: ignore[attr-defined]
    return runner


def test_full_pipeline_on_xquad(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    spec = write_spec(tmp_path / "s.yaml", xquad, out, FULL)
    _run(spec, registry, tmp_path / "cache")
    for stage in ("first", "re", "fused"):
        for lang in ("en", "de"):
            assert (out / "stages" / stage / f"{lang}.run").is_file()
    assert (out / "stages" / "idf" / "model" / "idf.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["measures"] == ["nDCG@10", "R@100"]
    # the metrics equal ir_measures on the written run file
    run = Run.read_trec(out / "stages" / "re" / "de.run")
    expected = evaluate(run, read_qrels(xquad / "de" / "qrels.dev.txt"), ["nDCG@10"])["nDCG@10"]
    assert metrics["stages"]["re"]["languages"]["de"]["nDCG@10"] == pytest.approx(expected)
    # the IDF re-ranker really improves on raw term overlap, in both languages
    for lang in ("en", "de"):
        assert metrics["stages"]["re"]["languages"][lang]["nDCG@10"] > metrics["stages"]["first"]["languages"][lang]["nDCG@10"] + 0.05
    assert max(len(h) for h in run.values()) == 20
    manifest = json.loads((out / "stages" / "re" / "manifest.json").read_text())
    assert manifest["component"] == "idf-overlap" and manifest["model_references"] == {"model": "stage:idf"}
    assert (out / "spec.yaml").is_file()


def test_a_train_stage_starts_from_another_train_stages_model(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "out"
    spec = write_spec(tmp_path / "s.yaml", xquad, out, """\
  idf: {kind: train, component: idf}
  idf2: {kind: train, component: idf, params: {base: "stage:idf", smoothing: 2.0}}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf2", k: 20}}
  first: {kind: retrieve, component: overlap, params: {k: 50}}
""")
    _run(spec, registry, tmp_path / "cache")
    first = json.loads((out / "stages" / "idf" / "model" / "idf.json").read_text())
    second = json.loads((out / "stages" / "idf2" / "model" / "idf.json").read_text())
    assert second.pop("<base>") == 1.0 and second == first  # idf2 really read idf's folder
    assert load_spec(spec, registry).stages["idf2"].spec.params == {"base": "stage:idf", "smoothing": 2.0}


def test_second_run_reuses_everything_and_a_param_change_recomputes_downstream(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", FULL)
    _run(spec, registry, tmp_path / "cache")
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.run")}
    again = _run(spec, registry, tmp_path / "cache")
    assert all(not r.computed for r in again.result.stages.values())
    changed = _run(spec, registry, tmp_path / "cache", overrides=["stages.re.params.k=10"])
    computed = {n for n, r in changed.result.stages.items() if r.computed}
    assert computed == {"re", "fused"}
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.run")}
    assert after[tmp_path / "out/stages/first/en.run"] == before[tmp_path / "out/stages/first/en.run"]
    assert after[tmp_path / "out/stages/re/en.run"] != before[tmp_path / "out/stages/re/en.run"]


def test_heldout_queries_never_reach_the_trainer(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, topics: heldout}
  idf: {kind: train, component: idf}
""", extra="  holdout: 0.5\n")
    runner = _run(spec, registry, tmp_path / "cache")
    held = {q for q in ("t0", "t1", "t2", "t3") if is_heldout(q, 0.5)}
    assert held and len(held) < 4
    assert set(runner.input_run("first", "en")) <= held
    training, _ = runner.data["en"].topic_set("train")
    assert set(training) == {"t0", "t1", "t2", "t3"} - held


def test_failing_stage_is_named_and_earlier_outputs_stay(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    qid = next(iter((xquad / "de" / "topics.dev.tsv").read_text().splitlines())).split("\t")[0]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", FULL.replace('k: 20}', f'k: 20, fail_on: "{qid}"}}'))
    with pytest.raises(StageError, match=r"stage 're' failed: \[en\] RuntimeError: asked to fail on") as e:
        _run(spec, registry, tmp_path / "cache")
    assert "__init__.py:" in str(e.value)
    first = (tmp_path / "out/stages/first/de.run").read_bytes()
    assert not (tmp_path / "out/stages/re/en.run").exists()
    _run(spec, registry, tmp_path / "cache", overrides=["stages.re.params.fail_on=null"])
    assert (tmp_path / "out/stages/first/de.run").read_bytes() == first
    assert (tmp_path / "out/stages/re/en.run").is_file()


def test_run_with_unknown_docids_is_an_input_error(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", FULL, languages="[en]")
    _run(spec, registry, tmp_path / "cache")
    run_file = tmp_path / "out/stages/first/en.run"
    run_file.write_text(run_file.read_text().replace("xq-", "zz-", 1))
    runner = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
    done.write_record(tmp_path / "out/stages/first/done/en.key", runner.key("first", "en"), run_file, 1.0)  # bless the edit
    (tmp_path / "out/stages/re/done/en.key").unlink()
    with pytest.raises(InputError, match="not in the corpus, e.g. 'zz-"):
        _run(spec, registry, tmp_path / "cache")


def test_lang_placeholder_in_params_is_filled_per_language(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    for lang in ("en", "de"):
        model = tmp_path / f"idf-{lang}"
        model.mkdir()
        (model / "idf.json").write_text('{"purr": 5.0}' if lang == "en" else '{"schnurren": 7.0}')
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", f"""\
  first: {{kind: retrieve, component: overlap}}
  re: {{kind: rerank, component: idf-overlap, inputs: [first], params: {{model: "{tmp_path}/idf-{{lang}}"}}}}
""")
    runner = _run(spec, registry, tmp_path / "cache")
    assert dict(runner.input_run("re", "en")["q1"])["d1"] == 5.0
    assert dict(runner.input_run("re", "de")["q1"])["d1"] == 7.0


def test_a_finished_run_holds_no_runs_in_memory(tmp_path: Path, xquad: Path, registry: Registry, write_spec,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs read as inputs are dropped once no later stage takes them, and the evaluation reads
    one at a time: at MIRACL scale each run is millions of hits (before: every run read stayed)."""
    import gc

    def alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Run)

    most = [0]
    read_trec = Run.read_trec.__func__  # type: ignore[attr-defined]

    def tracked(cls: type[Run], path: Path) -> Run:
        most[0] = max(most[0], alive())
        return read_trec(cls, path)

    before = alive()
    monkeypatch.setattr(Run, "read_trec", classmethod(tracked))
    runner = _run(write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", FULL), registry, tmp_path / "cache")
    assert alive() == before, f"{alive() - before} runs still in memory"
    assert runner.result.metrics["stages"]["fused"]["languages"]["de"]["nDCG@10"] > 0  # type: ignore[attr-defined]
    assert most[0] - before <= 4  # first and re of the two languages (fused takes both); not the 6 runs of 3 stages
