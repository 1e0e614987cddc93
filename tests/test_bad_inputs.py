"""Every bad data file under tests/bad_inputs gives one line naming the file and line, exit code 2,
no traceback, and nothing written to the output folder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core.registry import Registry

BAD = Path(__file__).parent / "bad_inputs"
CASES = [
    tuple(line.split("\t", 1))
    for line in (BAD / "expected.tsv").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
SOURCE_OF = {"corpus": "corpus", "topics": "topics", "qrels": "qrels", "train": "train", "parallel": "parallel"}


def test_every_bad_input_file_has_an_expectation() -> None:
    files = {str(p.relative_to(BAD)) for p in BAD.glob("*/*")}
    assert files == {name for name, _ in CASES}
    assert len(files) >= 35


def _one_line_error(result, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("stage ")]  # progress log
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert re.search(pattern, lines[0]), f"{lines[0]!r} !~ {pattern!r}"


@pytest.mark.parametrize(("name", "expected"), [c for c in CASES if not c[0].startswith("runs/")], ids=lambda v: v)
def test_bad_dataset_file_stops_the_run_before_any_output(
    name: str, expected: str, tmp_path: Path, tiny: Path, cli_registry: Registry
) -> None:
    kind = name.split("/")[0]
    bad = tmp_path / "bad" / Path(name).name
    bad.parent.mkdir()
    shutil.copy(BAD / name, bad)
    sources = {
        "corpus": tiny / "en" / "corpus.jsonl",
        "topics": tiny / "en" / "topics.dev.tsv",
        "qrels": tiny / "en" / "qrels.dev.txt",
        "train": tiny / "en" / "train.jsonl.gz",
        "parallel": tmp_path / "parallel.tsv",
    }
    sources["parallel"].write_text("cats purr\tKatzen schnurren\n", encoding="utf-8")
    sources[SOURCE_OF[kind]] = bad
    out = tmp_path / "out"
    spec = tmp_path / "spec.yaml"
    dataset = "".join(f'  {key}: "{path}"\n' for key, path in sources.items())
    spec.write_text(f"""output: {out}
dataset:
  languages: [en]
{dataset}stages:
  first: {{kind: retrieve, component: overlap}}
  idf: {{kind: train, component: idf}}
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    _one_line_error(result, expected.replace("@FILE@", re.escape(str(bad))))
    assert not out.exists()


@pytest.mark.parametrize(("name", "expected"), [c for c in CASES if c[0].startswith("runs/") and "unknown" not in c[0]])
def test_bad_run_file_in_eval_and_compare(name: str, expected: str, tmp_path: Path, tiny: Path) -> None:
    run = BAD / name
    pattern = expected.replace("@FILE@", re.escape(str(run)))
    _one_line_error(CliRunner().invoke(main, ["eval", str(run), str(tiny / "en" / "qrels.dev.txt")]), pattern)
    _one_line_error(CliRunner().invoke(main, ["compare", str(run), "--qrels", str(tiny / "en" / "qrels.dev.txt")]), pattern)


def test_run_naming_unknown_docids_stops_the_rerank_and_keeps_earlier_outputs(
    tmp_path: Path, tiny: Path, cli_registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap}
  idf: {kind: train, component: idf}
  re: {kind: rerank, component: idf-overlap, inputs: [first], params: {model: "stage:idf"}}
""", languages="[en]")
    cache = ["--cache", str(tmp_path / "cache")]
    assert CliRunner().invoke(main, ["run", str(spec), *cache]).exit_code == 0
    run_file = tmp_path / "out/stages/first/en.run"
    shutil.copy(BAD / "runs/unknown_docid.run", run_file)
    _bless(tmp_path / "out/stages/first/done/en.key", run_file)  # as if the bad file had been made by the stage
    (tmp_path / "out/stages/re/done/en.key").unlink()
    model = (tmp_path / "out/stages/idf/model/idf.json").read_bytes()
    result = CliRunner().invoke(main, ["run", str(spec), *cache])
    expected = dict(CASES)["runs/unknown_docid.run"].replace("@FILE@", re.escape(str(run_file)))
    _one_line_error(result, expected)
    assert (tmp_path / "out/stages/idf/model/idf.json").read_bytes() == model


def _bless(record: Path, output: Path) -> None:
    """Rewrite a done record so that it matches ``output`` as it is now."""
    from rankfw.run.done import output_signature

    data = json.loads(record.read_text(encoding="utf-8"))
    data["output"] = output_signature(output)
    record.write_text(json.dumps(data), encoding="utf-8")


BAD_DATASET_SPEC = """name: edited
stages: {}
dataset:
  languages: [en]
  corpus: corpus.jsonl
  topics: topics.tsv
  qrels: qrels.txt
  holdout_folds: five
"""


def test_an_output_folder_whose_spec_has_a_bad_dataset_section_is_one_line(tmp_path: Path) -> None:
    """``rankfw eval OUT`` and ``compare --heldout`` read the folder's spec.yaml: an invalid
    dataset section (an edited spec) is one line naming the key and the line, exit 2."""
    out = tmp_path / "out"
    (out / "stages" / "bm25").mkdir(parents=True)
    (out / "stages" / "bm25" / "en.run").write_text("q1 Q0 d1 1 1.0 x\n", encoding="utf-8")
    (out / "spec.yaml").write_text(BAD_DATASET_SPEC, encoding="utf-8")
    pattern = rf"dataset\.holdout_folds: .*integer.*\({re.escape(str(out / 'spec.yaml'))}:8\)"
    _one_line_error(CliRunner().invoke(main, ["eval", str(out)]), pattern)

    from rankfw.core import InputError
    from rankfw.run.heldout import heldout_qrels

    with pytest.raises(InputError, match=pattern):
        heldout_qrels(out)
