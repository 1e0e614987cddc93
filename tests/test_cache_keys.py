"""Cache keys per unit: a new language, an edited qrels or corpus file, a changed param or a
changed line of a plugin's code recompute exactly the units that read it; done records bind the
key to the output's content (issue 18 item 1)."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

from rankfw.core.registry import Registry, load_registry
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

PER_LANGUAGE = """\
  first: {kind: retrieve, component: overlap, params: {k: 30}}
  idf: {kind: train, component: idf, per_language: true}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
"""

# the shape of examples/xquad.yaml: eval / heldout / train topic sets, a trainer on train-topic runs
# (its topics left at the default), a trainer on held-out runs, model references, fusion
XQUAD_LIKE = """\
  bm25:       {kind: retrieve, component: overlap, params: {k: 30}}
  bm25_ho:    {kind: retrieve, component: overlap, params: {k: 30}, topics: heldout}
  bm25_train: {kind: retrieve, component: overlap, params: {k: 20}, topics: train}
  base:  {kind: train, component: idf}
  ft:    {kind: train, component: idf, inputs: [bm25_train], params: {base: "stage:base"}}
  re:    {kind: rerank, component: idf-overlap, inputs: [bm25], params: {model: "stage:ft", k: 20}}
  re_ho: {kind: rerank, component: idf-overlap, inputs: [bm25_ho], topics: heldout, params: {model: "stage:ft", k: 20}}
  tune:  {kind: train, component: idf, inputs: [bm25_ho, re_ho], topics: heldout}
  fused: {kind: fuse, component: sum, inputs: [bm25, re]}
"""


def _data(tmp_path: Path, xquad: Path, languages: tuple[str, ...] = ("en", "de", "es")) -> Path:
    root = tmp_path / "data"
    for lang in languages:
        (root / lang).mkdir(parents=True)
        for name in ("corpus.jsonl", "topics.dev.tsv", "qrels.dev.txt", "train.jsonl.gz"):
            shutil.copyfile(xquad / lang / name, root / lang / name)
    return root


def _run(spec: Path, registry: Registry, cache: Path, **kwargs) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """Run; return stage -> the units computed."""
    log: list[str] = []
    runner = Runner(load_spec(spec, registry, kwargs.pop("overrides", [])), cache_dir=cache, log=log.append, **kwargs)
    result = runner.run()
    _run.log = log  # type: ignore[attr-defined]
    return {name: set(r.computed) for name, r in result.stages.items() if r.computed}


def test_adding_a_language_computes_only_its_units(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    data = _data(tmp_path, xquad)
    spec = write_spec(tmp_path / "s.yaml", data, tmp_path / "out", PER_LANGUAGE, languages="[en]")
    _run(spec, registry, tmp_path / "cache")
    en = (tmp_path / "out/stages/fused/en.run").read_bytes()
    spec = write_spec(tmp_path / "s.yaml", data, tmp_path / "out", PER_LANGUAGE, languages="[en, de]")
    assert _run(spec, registry, tmp_path / "cache") == {"first": {"de"}, "idf": {"de"}, "re": {"de"}, "fused": {"de"}}
    assert (tmp_path / "out/stages/fused/en.run").read_bytes() == en


def test_editing_qrels_recomputes_no_stage_and_plan_says_so(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    data = _data(tmp_path, xquad, ("en", "de"))
    spec = write_spec(tmp_path / "s.yaml", data, tmp_path / "out", XQUAD_LIKE, extra="  holdout: 0.2\n")
    _run(spec, registry, tmp_path / "cache")
    before = _run.log  # type: ignore[attr-defined]
    qrels = data / "de" / "qrels.dev.txt"
    lines = qrels.read_text().splitlines()
    qrels.write_text("\n".join(lines[: len(lines) // 2]) + "\n")  # half the judgements gone
    runner = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
    plan = runner.plan()
    assert len(plan) == 6 * 2 + 3 and all(p.status == "cached" for p in plan), [p for p in plan if p.status != "cached"]
    assert _run(spec, registry, tmp_path / "cache") == {}
    assert before and any("[9/9" in line for line in before)
    metrics = runner.evaluate()  # but the metrics follow the new qrels
    assert metrics["queries"]["bm25"]["de"]["judged"] == len(lines) // 2


def test_editing_one_corpus_recomputes_that_language_and_its_dependents(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    data = _data(tmp_path, xquad, ("en", "de"))
    spec = write_spec(tmp_path / "s.yaml", data, tmp_path / "out", PER_LANGUAGE + "  all: {kind: train, component: idf}\n")
    _run(spec, registry, tmp_path / "cache")
    corpus = data / "de" / "corpus.jsonl"
    corpus.write_text(corpus.read_text().replace("Die ", "Der ", 1))
    plan = {(p.stage, p.unit): p for p in Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").plan()}
    assert plan[("first", "de")].reason == "data changed (corpus [de])"
    assert plan[("re", "de")].reason == "inputs to compute first (first, model=stage:idf); data changed (corpus [de])"
    assert not plan[("re", "de")].conditional  # its own corpus changed too
    assert plan[("all", "model")].reason == "data changed (corpus [de])"
    fused = (tmp_path / "out/stages/fused/de.run").read_bytes()
    assert _run(spec, registry, tmp_path / "cache") == {"first": {"de"}, "idf": {"de"}, "re": {"de"}, "all": {"model"}}
    # the edited sentence matches no question: first and re came out the same, so fused is reused
    assert "stage re [de]: output unchanged: stages reading it are reused where nothing else changed" in _run.log  # type: ignore[attr-defined]
    assert (tmp_path / "out/stages/fused/de.run").read_bytes() == fused


def test_changing_a_param_recomputes_that_stage_and_its_dependents(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", _data(tmp_path, xquad, ("en", "de")), tmp_path / "out", PER_LANGUAGE)
    _run(spec, registry, tmp_path / "cache")
    plan = Runner(load_spec(spec, registry, ["stages.re.params.k=10"]), cache_dir=tmp_path / "cache").plan()
    assert {(p.stage, p.reason) for p in plan if p.status == "to compute"} == {
        ("re", "params changed"), ("fused", "inputs to compute first (re): reused if they come out the same")}
    assert _run(spec, registry, tmp_path / "cache", overrides=["stages.re.params.k=10"]) == {"re": {"en", "de"}, "fused": {"en", "de"}}


def test_a_param_written_another_way_is_the_same_key(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    """``5e-5`` is a string to YAML 1.1 and ``30.0`` a float for an int param: the Config reads both
    as the value already computed, so nothing is recomputed; another value still is."""
    stages = PER_LANGUAGE.replace("params: {k: 30}", "params: {k: 30, seconds_per_query: 0.0}")
    spec = write_spec(tmp_path / "s.yaml", _data(tmp_path, xquad, ("en",)), tmp_path / "out", stages, languages="[en]")
    _run(spec, registry, tmp_path / "cache")
    same = ["stages.first.params.seconds_per_query=0e0", "stages.first.params.k=30.0"]
    assert load_spec(spec, registry, same).stages["first"].spec.params == {"k": 30.0, "seconds_per_query": "0e0"}
    plan = Runner(load_spec(spec, registry, same), cache_dir=tmp_path / "cache").plan()
    assert plan and all(p.status == "cached" for p in plan), [(p.stage, p.reason) for p in plan if p.status != "cached"]
    assert _run(spec, registry, tmp_path / "cache", overrides=same) == {}
    other = Runner(load_spec(spec, registry, ["stages.first.params.seconds_per_query=1e-9"]), cache_dir=tmp_path / "cache")
    assert {(p.stage, p.reason) for p in other.plan() if p.status == "to compute"} >= {("first", "params changed")}


PLUGIN = '''\
"""A throwaway plugin written by the test."""
from rankfw.core import ComponentConfig, Reranker, Run, hookimpl


class Scaled(Reranker):
    description = "input scores times a factor (test)"

    class Config(ComponentConfig):
        pass

    def rerank(self, topics, run, corpus, ctx):
        return Run.from_scores({q: {d: s * 2.0 for d, s in hits} for q, hits in run.items()})


@hookimpl
def register_rerankers(register):
    register("scaled", Scaled)
'''


def _plugin_registry(root: Path, test_registry: Registry) -> Registry:
    importlib.invalidate_caches()
    module = importlib.import_module("rankfw_throwaway")
    module = importlib.reload(module)
    import rankfw_testplugin

    return load_registry(extra_plugins=[("testplugin", rankfw_testplugin), ("throwaway", module)], use_entry_points=False)


def test_editing_one_line_of_a_plugins_rerank_recomputes_that_stage(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    package = tmp_path / "plugin" / "rankfw_throwaway"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path / "plugin"))
    monkeypatch.delitem(sys.modules, "rankfw_throwaway", raising=False)
    spec = write_spec(tmp_path / "s.yaml", _data(tmp_path, xquad, ("en",)), tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 20}}
  scaled: {kind: rerank, component: scaled, inputs: [first]}
  fused: {kind: fuse, component: sum, inputs: [scaled]}
""", languages="[en]")
    _run(spec, _plugin_registry(tmp_path, registry), tmp_path / "cache")
    assert _run(spec, _plugin_registry(tmp_path, registry), tmp_path / "cache") == {}
    first = (tmp_path / "out/stages/first/en.run").read_text().splitlines()[0].split()
    (package / "__init__.py").write_text(PLUGIN.replace("s * 2.0", "s * 3.25"))
    plugins = _plugin_registry(tmp_path, registry)
    plan = {p.stage: p for p in Runner(load_spec(spec, plugins), cache_dir=tmp_path / "cache").plan()}
    assert plan["scaled"].reason == "code changed (rankfw_throwaway.__init__)" and plan["first"].status == "cached"
    assert _run(spec, plugins, tmp_path / "cache") == {"scaled": {"en"}, "fused": {"en"}}
    top = (tmp_path / "out/stages/scaled/en.run").read_text().splitlines()[0].split()
    assert top[2] == first[2] and float(top[4]) == pytest.approx(float(first[4]) * 3.25)


def test_a_run_file_replaced_before_its_record_is_recomputed(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    """A kill between replacing a run file (new params) and writing its done record leaves the old
    record beside the other params' file: the original spec must not reuse it."""
    data = _data(tmp_path, xquad, ("en",))
    spec = write_spec(tmp_path / "s.yaml", data, tmp_path / "out", PER_LANGUAGE, languages="[en]")
    _run(spec, registry, tmp_path / "cache")
    clean = {str(p.relative_to(tmp_path)): p.read_bytes() for p in (tmp_path / "out/stages").rglob("*.run")}
    clean_first = (tmp_path / "out/stages/first/en.run").read_bytes()
    other = write_spec(tmp_path / "o.yaml", data, tmp_path / "other", PER_LANGUAGE, languages="[en]")
    _run(other, registry, tmp_path / "cache", overrides=["stages.re.params.k=5"])
    shutil.copyfile(tmp_path / "other/stages/re/en.run", tmp_path / "out/stages/re/en.run")
    assert _run(spec, registry, tmp_path / "cache") == {"re": {"en"}}
    assert "warning: stage re [en]: recomputing: en.run changed on disk (size" in "\n".join(_run.log)  # type: ignore[attr-defined]
    assert {str(p.relative_to(tmp_path)): p.read_bytes() for p in (tmp_path / "out/stages").rglob("*.run")} == clean
    # a run file cut at a line end is not reused either
    run_file = tmp_path / "out/stages/first/en.run"
    run_file.write_bytes(b"".join(run_file.read_bytes().splitlines(keepends=True)[:-3]))
    assert _run(spec, registry, tmp_path / "cache") == {"first": {"en"}}
    assert {p.name: p.read_bytes() for p in (tmp_path / "out/stages/first").rglob("*.run")} == {"en.run": clean_first}
    # a model folder whose files changed is retrained
    (tmp_path / "out/stages/idf/models/en/idf.json").write_text("{}")
    assert _run(spec, registry, tmp_path / "cache") == {"idf": {"en"}}


def test_examples_xquad_keys_do_not_cover_the_qrels(tmp_path: Path) -> None:
    """``rankfw plan examples/xquad.yaml`` after editing only the qrels: every unit keeps its key,
    so every stage is cached (checked on the keys: a full run takes most of an hour)."""
    pytest.importorskip("rankfw_bm25")
    from rankfw.core.registry import default_registry
    from rankfw.testing import REPO

    qrels = tmp_path / "qrels"
    for lang in ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"):
        (qrels / lang).mkdir(parents=True)
        lines = (REPO / "data/xquad" / lang / "qrels.dev.txt").read_text().splitlines()
        (qrels / lang / "qrels.dev.txt").write_text("\n".join(lines[::2]) + "\n")  # every other judgement dropped

    def keys(*overrides: str) -> dict[tuple[str, str], str]:
        pipeline = load_spec(REPO / "examples/xquad.yaml", default_registry(),
                             ["dataset.root=" + str(REPO / "data/xquad"), *overrides])
        runner = Runner(pipeline, output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
        return {(s.name, u): runner.key(s.name, u).key for s in runner.stages() for u in runner.units(s)}

    before = keys()
    after = keys(f"dataset.qrels={qrels}/{{lang}}/qrels.dev.txt")
    assert len(before) == 13 * 11 + 4 and after == before
    changed = keys(f"dataset.topics={qrels}/{{lang}}/qrels.dev.txt")  # the topics are read: keys change
    assert {s for (s, _), k in changed.items() if k != before[(s, _)]} == {"bm25", "e5", "bi", "dense", "ce", "fused", "final"}


def test_a_done_marker_of_the_old_format_is_recomputed(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", "  first: {kind: retrieve, component: overlap}\n")
    _run(spec, registry, tmp_path / "cache")
    (tmp_path / "out/stages/first/done/en.key").write_text("0" * 64 + "\n")  # a bare key, as older versions wrote
    plan = {p.unit: p for p in Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").plan()}
    assert (plan["en"].status, plan["en"].reason) == ("to compute", "done record in an older format")
    assert plan["de"].status == "cached"
    assert _run(spec, registry, tmp_path / "cache") == {"first": {"en"}}


def test_a_model_folder_given_by_path_and_replaced_in_place_is_recomputed(
        tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    """A param naming a local folder (a model trained elsewhere, retrained into the same folder) is
    keyed by the folder's content: before, the rerank run of the old model was reused."""
    import json

    model = tmp_path / "idf-model"
    model.mkdir()
    (model / "idf.json").write_text(json.dumps({"the": 1.0}))
    spec = write_spec(tmp_path / "s.yaml", _data(tmp_path, xquad, ("en",)), tmp_path / "out", f"""\
  first: {{kind: retrieve, component: overlap, params: {{k: 20}}}}
  re: {{kind: rerank, component: idf-overlap, inputs: [first], params: {{model: "{model}", k: 20}}}}
""", languages="[en]")
    _run(spec, registry, tmp_path / "cache")
    assert _run(spec, registry, tmp_path / "cache") == {}
    before = (tmp_path / "out/stages/re/en.run").read_text()
    (model / "idf.json").write_text(json.dumps({"super": 5.0, "bowl": 3.0, "won": 2.0}))
    plan = {p.stage: p for p in Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").plan()}
    assert (plan["re"].reason, plan["first"].status) == ("data changed (param model [en])", "cached")
    assert _run(spec, registry, tmp_path / "cache") == {"re": {"en"}}
    assert (tmp_path / "out/stages/re/en.run").read_text() != before


def test_which_params_are_keyed_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rankfw.run.local_params import local_param_digests

    monkeypatch.chdir(tmp_path)
    (tmp_path / "en").mkdir()                      # a bare word that is a folder here: not a path
    (tmp_path / "weights.json").write_text("[0.5, 0.5]")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")  # a model folder named by a bare word
    params = {"language": "en", "weights": "weights.json", "model": "m", "teacher": "org/hub-id",
              "student": "stage:ft", "base": "bundled:multilingual-e5-small", "nested": {"runs": ["./en", "x"]}}
    digests = local_param_digests(params, tmp_path / "cache")
    assert set(digests) == {"param weights", "param model", "param nested.runs.0"}
    (tmp_path / "m" / "config.json").write_text('{"hidden_size": 8}')
    assert local_param_digests(params, tmp_path / "cache")["param model"] != digests["param model"]


def test_a_hub_model_pushed_anew_under_its_id_recomputes_what_it_made(
        tmp_path: Path, tiny: Path, write_spec, offline_hub: Path) -> None:  # type: ignore[no-untyped-def]
    """A stage naming a hub id is keyed by the commit that id loads: before, only the id was keyed,
    so a model updated upstream (the local cache's ``refs/main`` moved) reused the old model's runs."""
    pytest.importorskip("rankfw_biencoder_distill")
    import rankfw_testplugin

    from rankfw.run.keys import changed_parts
    from rankfw.testing.hub_mirror import seed_hub_model

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    first = seed_hub_model(offline_hub, "org/tiny-bi", model).name
    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin)])
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 4}}
  re: {kind: rerank, component: biencoder, inputs: [first], params: {model: "org/tiny-bi"}}
""", languages="[en]")

    def keys() -> dict[str, object]:
        runner = Runner(load_spec(spec, registry), output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
        return {name: runner.key(name, "en") for name in ("first", "re")}

    before = keys()
    assert before["re"].data["hub model [en]"] == f"org/tiny-bi@{first}"  # type: ignore[attr-defined]
    assert keys()["re"].key == before["re"].key  # type: ignore[attr-defined]
    (model / "config.json").write_text('{"hidden_size": 16}')
    second = seed_hub_model(offline_hub, "org/tiny-bi", model).name
    after = keys()
    assert second != first and after["first"].key == before["first"].key  # type: ignore[attr-defined]
    assert after["re"].key != before["re"].key  # type: ignore[attr-defined]
    old = {"parts": before["re"].parts, "data": before["re"].data}  # type: ignore[attr-defined]
    assert changed_parts(old, after["re"]) == "data changed (hub model [en])"  # type: ignore[arg-type]
