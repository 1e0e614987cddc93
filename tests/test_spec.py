"""The spec: every malformed spec gives one line naming the YAML path and line, exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core import InputError
from rankfw.core.registry import Registry
from rankfw.spec import load_spec, parse_override

BAD_SPECS = sorted((Path(__file__).parent / "bad_specs").glob("*.yaml"))


def _instantiate(template: Path, tmp_path: Path, data: Path) -> tuple[Path, str]:
    text = template.read_text(encoding="utf-8")
    expect = text.splitlines()[0].removeprefix("# expect: ") if text.startswith("# expect: ") else ""
    spec = tmp_path / template.name
    spec.write_text(text.replace("@DATA@", str(data)), encoding="utf-8")
    return spec, expect.replace("@FILE@", re.escape(str(spec)))


def test_there_are_many_bad_specs() -> None:
    assert len(BAD_SPECS) >= 25


@pytest.mark.parametrize("template", BAD_SPECS, ids=lambda p: p.stem)
def test_bad_spec_gives_one_line_error_and_exit_2(template: Path, tmp_path: Path, xquad: Path, cli_registry: Registry) -> None:
    spec, expect = _instantiate(template, tmp_path, xquad)
    assert expect, f"{template.name} has no '# expect:' line"
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert re.search(expect, lines[0]), f"{lines[0]!r} does not match {expect!r}"


def test_valid_spec_validates(tmp_path: Path, xquad: Path, cli_registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "ok.yaml", xquad, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 20}}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf"}}
  fused: {kind: fuse, component: sum, inputs: [first, re]}
""")
    result = CliRunner().invoke(main, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    assert "4 stages: first -> idf -> re -> fused" in result.stdout or "4 stages: idf -> first" in result.stdout
    pipeline = load_spec(spec, cli_registry)
    assert pipeline.order.index("re") > pipeline.order.index("idf")
    assert pipeline.stages["re"].model_refs == {"model": "idf"}
    assert not (tmp_path / "out").exists()  # validate writes nothing


def test_overrides_are_typed_and_located(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", "  first: {kind: retrieve, component: overlap}\n")
    pipeline = load_spec(spec, registry, ["stages.first.params.k=7", "dataset.languages=[de, ar]"])
    assert pipeline.stages["first"].config.k == 7  # type: ignore[attr-defined]
    assert pipeline.spec.dataset.languages == ["de", "ar"]
    with pytest.raises(InputError) as e:
        load_spec(spec, registry, ["stages.first.params.k=-1"])
    assert str(e.value) == "stages.first.params.k (--set): Input should be greater than 0"
    assert parse_override("dataset.root=/data/x") == (("dataset", "root"), "/data/x")
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_override("dataset.root")


def test_dataset_root_override_changes_every_path(tmp_path: Path, xquad: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", Path("elsewhere"), tmp_path / "out", "  first: {kind: retrieve, component: overlap}\n")
    pipeline = load_spec(spec, registry, [f"dataset.root={xquad}"])
    assert pipeline.spec.dataset.source("corpus", "de") == f"{xquad}/de/corpus.jsonl"


def test_a_source_can_be_given_per_language(tmp_path: Path, xquad: Path, registry: Registry) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"""dataset:
  root: {xquad}
  languages: [en, de]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  train: {{en: "{{root}}/en/train.jsonl.gz"}}
  parallel: {{de: "{{root}}/parallel/en-de.tsv"}}
stages:
  idf: {{kind: train, component: idf}}
""")
    dataset = load_spec(spec, registry).spec.dataset
    assert dataset.source("parallel", "de") == f"{xquad}/parallel/en-de.tsv"
    assert dataset.source("parallel", "en") is None and dataset.source("train", "de") is None
