"""Outputs: rankfw never writes through a symbolic link inside its output folder, never writes
outside it from a spec name, and never writes a TREC file its own reader would reject."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import rankfw_testplugin

from rankfw.core import InputError, Run, StageError
from rankfw.core.io import replace_dir
from rankfw.core.registry import Registry
from rankfw.run.runner import Runner
from rankfw.spec import load_spec, parse_spec

TRAIN = """\
  first: {kind: retrieve, component: overlap, params: {k: 3}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf", k: 3}}
"""


def _runner(tmp_path: Path, tiny: Path, registry: Registry, write_spec, stages: str = TRAIN, **kw) -> Runner:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", stages)
    return Runner(load_spec(spec, registry, kw.get("overrides", ())), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("link", ["stages/idf", "stages/idf/model", "stages"])
def test_a_symlink_inside_the_output_folder_is_refused_and_its_target_untouched(
        link: str, tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    _runner(tmp_path, tiny, registry, write_spec).run()
    outside = tmp_path / "outside"
    (outside / "model").mkdir(parents=True)
    (outside / "model" / "precious.txt").write_text("keep me")
    (outside / "idf" / "model").mkdir(parents=True)
    (outside / "idf" / "model" / "precious.txt").write_text("keep me too")
    out = tmp_path / "out"
    path = out / link
    import shutil

    shutil.rmtree(path)
    path.symlink_to(outside if link != "stages" else outside.parent / "outside", target_is_directory=True)
    runner = _runner(tmp_path, tiny, registry, write_spec, overrides=["stages.idf.params.smoothing=2.0"])
    with pytest.raises(InputError, match="symbolic link") as e:
        runner.run()
    assert str(path) in str(e.value)
    assert (outside / "model" / "precious.txt").read_text() == "keep me"
    assert (outside / "idf" / "model" / "precious.txt").read_text() == "keep me too"
    assert sorted(p.name for p in outside.iterdir()) == ["idf", "model"]


def test_replace_dir_replaces_a_link_never_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    folder = tmp_path / "stage"
    folder.mkdir()
    target = folder / "model"
    target.symlink_to(outside, target_is_directory=True)
    for round_ in range(3):  # a leftover .model.old link, then real directories
        new = folder / f".model.{round_}.tmp"
        new.mkdir()
        (new / "weights.bin").write_text(str(round_))
        replace_dir(new, target)
        assert not target.is_symlink() and (target / "weights.bin").read_text() == str(round_)
    assert (outside / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in folder.iterdir()) == ["model"]


@pytest.mark.parametrize("name", ["../../x", "a/b", "/tmp/x", "..", ".hidden", "x" * 101, "a b"])
def test_spec_names_must_be_plain(name: str, registry: Registry) -> None:
    text = f"name: {name!r}\ndataset: {{languages: [en], corpus: c.jsonl, topics: t.tsv}}\nstages:\n  a: {{kind: retrieve, component: overlap}}\n"
    with pytest.raises(InputError, match=r"^name: the name must be a plain folder name"):
        parse_spec(text, registry, source="s.yaml")
    ok = parse_spec(text.replace(repr(name), "my-run_2.1"), registry, source="s.yaml")
    assert ok.spec.output_dir == Path("runs/my-run_2.1")


def test_long_stage_names_and_empty_stage_languages_are_refused(registry: Registry) -> None:
    base = "dataset: {languages: [en], corpus: c.jsonl, topics: t.tsv}\nstages:\n  NAME: {kind: retrieve, component: overlap}\n"
    with pytest.raises(InputError, match=r"at most 100 characters\) \(s\.yaml:3\)"):
        parse_spec(base.replace("NAME", "s" * 300), registry, source="s.yaml")
    with pytest.raises(InputError, match=r"stages\.a\.languages: .*at least 1 item"):
        parse_spec(base.replace("NAME", "a").replace("overlap}", "overlap, languages: []}"), registry, source="s.yaml")


BAD_RUNS = {
    "a NaN score": ({"q1": [("d1", math.nan)]}, "not finite"),
    "an infinite score": ({"q1": [("d1", math.inf), ("d2", 1.0)]}, "not finite"),
    "a docid with a space": ({"q1": [("d 1", 1.0)]}, "document id 'd 1'"),
    "a qid with a no-break space": ({"q\u00a01": [("d1", 1.0)]}, "'q\\xa01'"),  # not a topic either: the core says so first
    "a docid twice": ({"q1": [("d1", 2.0), ("d1", 1.0)]}, "ranked twice"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_a_component_run_that_cannot_be_read_back_fails_its_stage(
        case: str, tmp_path: Path, tiny: Path, registry: Registry, write_spec, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    hits, message = BAD_RUNS[case]
    monkeypatch.setattr(rankfw_testplugin.OverlapRetriever, "retrieve", lambda self, topics, corpus, ctx: Run.from_ranked(hits))
    runner = _runner(tmp_path, tiny, registry, write_spec, "  first: {kind: retrieve, component: overlap}\n")
    with pytest.raises(StageError, match=r"stage 'first' failed: \[(en|de)\] .*" + re.escape(message)):
        runner.run()
    assert not list((tmp_path / "out" / "stages" / "first").glob("*.run"))


def test_a_topic_id_with_a_space_fails_the_stage_not_every_later_read(
        tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    (tiny / "en" / "topics.dev.tsv").write_text("q1\twhich animals purr\nq 2\twho barks at the mail carrier\n", encoding="utf-8")
    runner = _runner(tmp_path, tiny, registry, write_spec, "  first: {kind: retrieve, component: overlap}\n")
    with pytest.raises(StageError, match=r"stage 'first' failed: \[en\] query id 'q 2'"):
        runner.run()
    for run in (tmp_path / "out").rglob("*.run"):
        Run.read_trec(run)  # whatever was written reads back


@pytest.mark.parametrize("fill", [".inf", "-.inf", ".nan"])
def test_a_fusion_fill_that_is_not_finite_is_refused_at_validate(fill: str) -> None:
    fusion = pytest.importorskip("rankfw_fusion")
    from rankfw.core.registry import load_registry

    registry = load_registry(extra_plugins=[("fusion", fusion)], use_entry_points=False)
    name = next(n for (kind, n), info in sorted(registry.components.items())
                if kind == "fuser" and "fill" in info.cls.Config.model_fields)
    text = ("dataset: {languages: [en], corpus: c.jsonl, topics: t.tsv}\nstages:\n"
            f"  f: {{kind: fuse, component: {name}, inputs: [f], params: {{fill: {fill}}}}}\n")
    with pytest.raises(InputError, match=r"stages\.f\.params\.fill: .*fill must be a finite number \(s\.yaml:3\)"):
        parse_spec(text, registry, source="s.yaml")


def test_writing_a_file_sweeps_a_killed_writers_temporaries_but_not_a_live_ones(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from rankfw.core.io import atomic_write_text, scratch_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = socket.gethostname()
    target = tmp_path / "run.trec"
    stale_file = tmp_path / f".run.trec.{host}-{dead}.abc123.tmp"
    stale_file.write_text("half")
    stale_dir = tmp_path / f".run.trec.{host}-{dead}.def456.tmp"
    stale_dir.mkdir()
    live = tmp_path / f".run.trec.{host}-{os.getppid()}.ghi789.tmp"  # the parent process is running
    live.write_text("being written")
    other_host = tmp_path / f".run.trec.{host}x-{dead}.jkl.tmp"
    other_host.write_text("another machine's")
    other_target = tmp_path / f".run.trec2.{host}-{dead}.mno.tmp"
    other_target.write_text("another file's")
    atomic_write_text(target, "done\n")
    assert target.read_text() == "done\n"
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and other_host.exists() and other_target.exists()
    folder = scratch_dir(tmp_path / "model")
    assert folder.is_dir() and folder.name.startswith(f".model.{host}-{os.getpid()}.")
