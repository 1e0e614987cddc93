"""Running a part: plan / --dry-run (writes nothing), --only, --until, --force STAGE, --limit,
--languages, -q; batch-job progress lines; outputs readable by others and movable."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from rankfw.cli import main
from rankfw.core import InputError
from rankfw.core.registry import Registry
from rankfw.run.progress import PlainBar, RichProgress
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

STAGES = """\
  first: {kind: retrieve, component: overlap, params: {k: 30}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 20}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
"""


def _runner(spec: Path, registry: Registry, cache: Path, **kwargs) -> Runner:  # type: ignore[no-untyped-def]
    return Runner(load_spec(spec, registry), cache_dir=cache, **kwargs)


def _computed(runner: Runner) -> dict[str, set[str]]:
    return {n: set(r.computed) for n, r in runner.run().stages.items() if r.computed}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def test_plan_writes_nothing_and_only_computes_missing_inputs(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", STAGES)
    cache = tmp_path / "cache"
    plan = _runner(spec, registry, cache, only=["re"]).plan()
    assert [(p.stage, p.unit, p.status, p.reason) for p in plan] == [
        ("first", "en", "to compute", "not computed yet"), ("first", "de", "to compute", "not computed yet"),
        ("idf", "model", "to compute", "not computed yet"),
        ("re", "en", "to compute", "not computed yet"), ("re", "de", "to compute", "not computed yet")]
    assert not (tmp_path / "out").exists()
    assert _computed(_runner(spec, registry, cache, only=["re"])) == {"first": {"en", "de"}, "idf": {"model"}, "re": {"en", "de"}}
    assert not (tmp_path / "out/stages/fused").exists()
    assert _computed(_runner(spec, registry, cache, only=["fused"])) == {"fused": {"en", "de"}}
    before = _files(tmp_path / "out")
    plan = _runner(spec, registry, cache).plan()
    assert all(p.status == "cached" and p.estimate_s is not None for p in plan)
    assert _files(tmp_path / "out") == before


def test_until_force_languages_and_limit(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", STAGES)
    cache = tmp_path / "cache"
    assert _computed(_runner(spec, registry, cache, until="idf")) == {"first": {"en", "de"}, "idf": {"model"}}
    _computed(_runner(spec, registry, cache))
    assert _computed(_runner(spec, registry, cache, force_stages=["re"])) == {"re": {"en", "de"}, "fused": {"en", "de"}}
    plan = _runner(spec, registry, cache, force_stages=["re"]).plan()
    assert {(p.stage, p.reason) for p in plan if p.status == "to compute"} == {
        ("re", "forced (--force re)"), ("fused", "forced: depends on re (--force re)")}
    assert _computed(_runner(spec, registry, cache, force=True, only=["first"])) == {"first": {"en", "de"}}
    assert _computed(_runner(spec, registry, cache, languages=["de"], only=["first"], force=True)) == {"first": {"de"}}
    with pytest.raises(InputError, match="'fr' is not one of dataset.languages"):
        _runner(spec, registry, cache, languages=["fr"])
    with pytest.raises(InputError, match="unknown stage 'nope'"):
        _runner(spec, registry, cache, until="nope")
    limited = write_spec(tmp_path / "l.yaml", xquad, tmp_path / "limited", STAGES)
    result = _runner(limited, registry, cache, limit=7).run()
    first = [line.split()[0] for line in (tmp_path / "limited/stages/re/en.run").read_text().splitlines()]
    assert len(set(first)) == 7
    assert result.metrics["queries"]["re"]["en"] == {"asked": 7, "judged": 7, "missing": 0}
    full = _runner(limited, registry, cache).plan()  # a limited run is no full run
    assert {p.stage for p in full if p.status == "to compute"} == {"first", "re", "fused"}


def test_cli_plan_dry_run_and_quiet(tmp_path: Path, xquad: Path, cli_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", STAGES, languages="[en]")
    cache = ["--cache", str(tmp_path / "cache")]
    dry = CliRunner().invoke(main, ["run", str(spec), "--dry-run", *cache])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines()[0].split() == ["first", "[en]", "to", "compute", "not", "computed", "yet"]
    assert dry.stdout.strip().splitlines()[-1] == "0 units cached, 4 to compute"
    assert not (tmp_path / "out").exists()
    ran = CliRunner().invoke(main, ["run", str(spec), *cache, "--until", "re"])
    assert ran.exit_code == 0, ran.output
    assert "stage first (retrieve overlap): computed en [1/3," in ran.stderr
    assert "stage re (rerank idf-overlap): computed en [3/3," in ran.stderr
    plan = CliRunner().invoke(main, ["plan", str(spec), *cache, "--force", "idf"])
    assert plan.exit_code == 0, plan.output
    lines = plan.stdout.splitlines()
    assert any(line.startswith("first [en]") and "cached" in line for line in lines)
    assert any(line.startswith("idf [model]") and "forced (--force idf)" in line and "(~" in line for line in lines)
    assert any(line.startswith("fused [en]") and "forced: depends on idf" in line for line in lines)
    as_json = json.loads(CliRunner().invoke(main, ["plan", str(spec), *cache, "--json"]).stdout)
    assert {p["stage"]: p["status"] for p in as_json} == {"first": "cached", "idf": "cached", "re": "cached", "fused": "to compute"}
    quiet = CliRunner().invoke(main, ["run", "--force", str(spec), *cache, "-q"])  # a bare --force before SPEC
    assert quiet.exit_code == 0, quiet.output
    assert "stage " not in quiet.stderr and "nDCG@10" in quiet.stdout
    bad = CliRunner().invoke(main, ["plan", str(spec), *cache, "--only", "nope"])
    assert bad.exit_code == 2 and "unknown stage 'nope'" in bad.stderr


def test_plain_progress_lines_at_most_every_30_seconds() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = PlainBar(Console(file=out, width=200), "ft [en]: train", 100, 30.0, clock=lambda: now[0])
    for step in range(100):
        now[0] = step * 1.0  # one step a second
        bar.advance(1, loss=0.5 - step / 1000)
    now[0] = 100.0
    bar.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "ft [en]: train: 31/100 (1.03/s, ETA 1m07s) loss=0.47"
    assert len(lines) == 4 and lines[-1].startswith("ft [en]: train: 100/100 (done in 1m40s)")
    silent = io.StringIO()
    quick = PlainBar(Console(file=silent), "fast", 10, 30.0, clock=lambda: 0.0)
    quick.advance(10)
    quick.finish()
    assert silent.getvalue() == ""


def test_no_doubled_stage_prefix_in_progress(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    from rankfw.run.compute import context

    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", STAGES, languages="[en]")
    out = io.StringIO()
    with RichProgress(Console(file=out, width=200), interval=0.0) as progress:
        runner = _runner(spec, registry, tmp_path / "cache", progress=progress)
        ctx = context(runner, runner.pipeline.stages["re"], "en")
        with ctx.progress("re: encode passages", 2) as bar:
            bar.advance(2)
    assert "re [en]: encode passages: 2/2" in out.getvalue() and "re: encode" not in out.getvalue()


def test_outputs_get_the_umask_and_the_folder_can_move(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(xquad / "en", tmp_path / "data" / "en")
    spec = write_spec(tmp_path / "s.yaml", Path("data"), Path("out"), STAGES, languages="[en]")
    old = os.umask(0o022)
    try:
        _runner(spec, registry, tmp_path / "cache").run()
    finally:
        os.umask(old)
    for path in ("out/metrics.json", "out/stages/re/en.run", "out/spec.yaml", "out/stages/idf/model/idf.json"):
        assert stat.S_IMODE((tmp_path / path).stat().st_mode) == 0o644, path
    assert stat.S_IMODE((tmp_path / "out/stages/idf/model").stat().st_mode) == 0o755
    shutil.move(tmp_path / "out", tmp_path / "moved")
    monkeypatch.chdir("/")
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "moved"), "--json", "-m", "nDCG@10"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)["values"]
    metrics = json.loads((tmp_path / "moved/metrics.json").read_text())
    assert values["re"]["en"]["nDCG@10"] == pytest.approx(metrics["stages"]["re"]["languages"]["en"]["nDCG@10"])
    evaluated = CliRunner().invoke(main, ["eval", str(tmp_path / "moved"), "--json", "-m", "nDCG@10"])
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated.stdout)["stages"]["re"]["languages"]["en"]["nDCG@10"]
    assert again == pytest.approx(metrics["stages"]["re"]["languages"]["en"]["nDCG@10"])
    assert "idf" not in json.loads(evaluated.stdout)["stages"]


def test_library_progress_bars_are_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    transformers_logging = pytest.importorskip("transformers.utils.logging")
    from rankfw.cli_options import quiet_libraries

    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "TRANSFORMERS_VERBOSITY"):
        monkeypatch.delenv(name, raising=False)
    transformers_logging.enable_progress_bar()
    try:
        quiet_libraries()
        assert not transformers_logging.is_progress_bar_enabled()
        assert os.environ["TQDM_DISABLE"] == "1" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    finally:
        transformers_logging.enable_progress_bar()


def test_a_second_run_into_an_output_folder_in_use_is_refused_and_writes_nothing(
    tmp_path: Path, xquad: Path, cli_registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    from rankfw.run.lock import LOCK_FILE, OutputLock

    out = tmp_path / "out"
    spec = write_spec(tmp_path / "s.yaml", xquad, out, STAGES, languages="[en]")
    cache = ["--cache", str(tmp_path / "cache")]
    first = CliRunner().invoke(main, ["run", str(spec), *cache, "--until", "first"])
    assert first.exit_code == 0, first.output
    before = _files(out)
    with OutputLock(out):  # another run holds the folder (its own open of the lock file)
        busy = CliRunner().invoke(main, ["run", str(spec), *cache])
        assert busy.exit_code == 2, busy.output
        lines = busy.stderr.strip().splitlines()
        assert len(lines) == 1 and f"another rankfw run (pid {os.getpid()}) is writing this output folder" in lines[0]
        assert str(out) in lines[0] and "Traceback" not in busy.output
        assert _files(out) == before  # no spec copy, no stage, no metrics
    done = CliRunner().invoke(main, ["run", str(spec), *cache])  # released: the run goes on where it was
    assert done.exit_code == 0, done.output
    assert "stage first (retrieve overlap): cached" in done.stderr and (out / "metrics.json").is_file()
    assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
