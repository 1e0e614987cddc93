"""Common quirks that used to give silent wrong numbers (exit 0) are one-line errors, before
anything is written: an empty corpus, empty training data, a train stage with nothing to train
on, `languages: []`, topics none of which is judged, `eval` of an empty run."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core import InputError
from rankfw.core.registry import Registry
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

RETRIEVE = "  first: {kind: retrieve, component: overlap, params: {k: 3}}\n"
TRAIN = RETRIEVE + "  idf: {kind: train, component: idf}\n"


def _run(tmp_path: Path, tiny: Path, registry: Registry, write_spec, stages: str) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", stages)
    Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache").run()


def test_an_empty_corpus_is_an_error(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    (tiny / "de" / "corpus.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match=r"de/corpus\.jsonl: the corpus has no documents"):
        _run(tmp_path, tiny, registry, write_spec, RETRIEVE)
    assert not (tmp_path / "out").exists()


def test_empty_training_data_is_an_error(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    with gzip.open(tiny / "en" / "train.jsonl.gz", "wt") as f:
        f.write("")
    with pytest.raises(InputError, match=r"en/train\.jsonl\.gz: no training examples"):
        _run(tmp_path, tiny, registry, write_spec, TRAIN)
    assert not (tmp_path / "out").exists()


def test_a_train_stage_without_training_data_is_refused_at_validate(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", TRAIN)
    spec.write_text(spec.read_text().replace('  train: "{root}/{lang}/train.jsonl.gz"\n', ""))
    with pytest.raises(InputError, match=r"stages\.idf: a train stage needs training data.*\(.*s\.yaml:\d+\)"):
        load_spec(spec, registry)
    spec.write_text(spec.read_text().replace("  idf: {kind: train, component: idf}",
                                             "  idf: {kind: train, component: idf, inputs: [first]}"))
    load_spec(spec, registry)  # trained from a run's topics instead: fine


def test_topics_none_of_which_is_judged_are_an_error(tmp_path: Path, tiny: Path, registry: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    (tiny / "en" / "qrels.dev.txt").write_text("Q1 0 d1 1\nQ2 0 d2 1\n")  # the qids of another convention
    with pytest.raises(InputError, match=r"en/qrels\.dev\.txt: no relevant judgement for any of the 2 topics"):
        _run(tmp_path, tiny, registry, write_spec, RETRIEVE)
    (tiny / "en" / "qrels.dev.txt").write_text("q1 0 d1 1\nQ2 0 d2 1\n")  # some judged: a normal run
    _run(tmp_path, tiny, registry, write_spec, RETRIEVE)


def test_eval_of_an_empty_or_unjudged_run_is_an_error(tmp_path: Path) -> None:
    qrels = tmp_path / "q.txt"
    qrels.write_text("q1 0 d1 1\n")
    run = tmp_path / "r.run"
    run.write_text("")
    for text in ("", "x1 Q0 d1 1 1.0 t\n"):  # empty; no judged query
        run.write_text(text)
        result = CliRunner().invoke(main, ["eval", str(run), str(qrels)])
        assert result.exit_code == 2 and "0.0000" not in result.stdout, result.output
        assert result.stderr.startswith(f"error: {run}: ") and len(result.stderr.strip().splitlines()) == 1
    run.write_text("q1 Q0 d1 1 1.0 t\n")
    good = CliRunner().invoke(main, ["eval", str(run), str(qrels), "-m", "nDCG@10"])
    assert good.exit_code == 0 and "nDCG@10\t1.0000" in good.stdout
