"""Early cut-off: a unit's key holds the content of what its inputs wrote, not their keys, so a
unit recomputed to the same output (a param or a code edit that changes nothing) leaves the
units reading it cached, and an input that came out different recomputes them."""

from __future__ import annotations

import json
from pathlib import Path

from rankfw.core.registry import Registry
from rankfw.run import done
from rankfw.run.plan import format_plan
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 30}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
"""


def _run(spec: Path, registry: Registry, cache: Path, overrides: list[str] | None = None) -> tuple[dict[str, set[str]], list[str]]:
    log: list[str] = []
    result = Runner(load_spec(spec, registry, overrides or []), cache_dir=cache, log=log.append).run()
    return {name: set(r.computed) for name, r in result.stages.items() if r.computed}, log


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in (out / "stages").rglob("*.run")}


def test_a_param_that_leaves_the_output_alone_recomputes_only_its_stage(
    tmp_path: Path, tiny: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    _run(spec, registry, tmp_path / "cache")
    before = _outputs(tmp_path / "out")
    same = ["stages.first.params.seconds_per_query=1e-9"]  # a new key, the same hits
    plans = Runner(load_spec(spec, registry, same), cache_dir=tmp_path / "cache").plan()
    todo = {(p.stage, p.unit): p for p in plans if p.status == "to compute"}
    assert {s for s, _ in todo} == {"first", "re", "fused"}
    assert todo[("first", "en")].reason == "params changed" and not todo[("first", "en")].conditional
    assert todo[("re", "en")].reason == "inputs to compute first (first): reused if they come out the same"
    assert todo[("fused", "de")].reason == "inputs to compute first (first, re): reused if they come out the same"
    assert all(p.conditional for (s, _), p in todo.items() if s != "first")
    summary = format_plan(plans)[-1]
    assert summary.startswith("1 units cached, 6 to compute (4 of them only if an input comes out different), about ")
    assert " to " in summary.split("about ")[1]  # the first's seconds to all six's
    computed, log = _run(spec, registry, tmp_path / "cache", same)
    assert computed == {"first": {"en", "de"}}
    assert "stage first [en]: output unchanged: stages reading it are reused where nothing else changed" in log
    assert _outputs(tmp_path / "out") == before
    assert all(p.status == "cached" for p in Runner(load_spec(spec, registry, same), cache_dir=tmp_path / "cache").plan())


def test_an_input_that_comes_out_different_recomputes_its_readers(
    tmp_path: Path, tiny: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    _run(spec, registry, tmp_path / "cache")
    fewer = ["stages.first.params.k=1"]
    computed, log = _run(spec, registry, tmp_path / "cache", fewer)
    # the tiny German questions have one hit each: k=1 changes only the English run
    assert computed == {"first": {"en", "de"}, "re": {"en"}, "fused": {"en"}}
    assert [line for line in log if "output unchanged" in line] == [
        "stage first [de]: output unchanged: stages reading it are reused where nothing else changed"]
    assert all(len(hits) == 1 for hits in Runner(load_spec(spec, registry, fewer), cache_dir=tmp_path / "cache")
               .input_run("re", "en").values())
    # back to the first params: first's output is the one re and fused were first made from
    computed, _ = _run(spec, registry, tmp_path / "cache")
    assert computed == {"first": {"en", "de"}, "re": {"en"}, "fused": {"en"}}


def test_a_model_retrained_to_other_bytes_of_the_same_size_recomputes_what_reads_it(
    tmp_path: Path, tiny: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    """A model folder's done signature is its files' names and sizes (cheap to check at every run);
    what its readers key on is its bytes: a retrained model has the sizes of the old one."""
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", STAGES)
    _run(spec, registry, tmp_path / "cache")
    model = tmp_path / "out/stages/idf/model/idf.json"
    text = model.read_text()
    value = json.dumps(next(iter(json.loads(text).values())))
    other = value[:-1] + str((int(value[-1]) + 1) % 10)  # the first idf's last digit, one up
    tweaked = text.replace(value, other, 1)
    assert tweaked != text and len(tweaked) == len(text)
    record = done.read_record(tmp_path / "out/stages/idf/done/model.key")
    assert record is not None
    model.write_text(tweaked)  # as a retraining writes it, then its done record
    runner = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
    done.write_record(tmp_path / "out/stages/idf/done/model.key", runner.key("idf", "model"), model.parent, 1.0)
    assert done.read_record(tmp_path / "out/stages/idf/done/model.key")["output"] == record["output"]  # type: ignore[index]
    plan = {(p.stage, p.unit): p for p in Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").plan()}
    assert plan[("re", "en")].reason == "inputs changed (model=stage:idf)"
    computed, _ = _run(spec, registry, tmp_path / "cache")
    assert set(computed) >= {"re"} and "idf" not in computed and "first" not in computed


def test_content_digest_covers_bytes_and_names(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "w.bin").write_bytes(b"abcd")
    first = done.content_digest(folder)
    (folder / "sub" / "w.bin").write_bytes(b"abce")
    second = done.content_digest(folder)
    (folder / "sub" / "w.bin").rename(folder / "w.bin")
    assert len({first, second, done.content_digest(folder)}) == 3
    assert done.content_digest(folder / "w.bin") == done.content_digest(folder / "w.bin") != second
