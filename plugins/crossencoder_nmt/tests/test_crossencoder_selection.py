"""``select_on: heldout``: finetune-crossencoder keeps the checkpoint the held-out questions prefer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer

from rankfw.core import StageContext, TrainingInput
from rankfw.data import JsonlCorpus, read_training
from rankfw.data.holdout import HoldoutRule
from rankfw.models import Selector


def _split_input(xquad: Path, cache: Path) -> TrainingInput:
    """English XQuAD training data with one article-level fold of four held out."""
    train = xquad / "en" / "train.jsonl.gz"
    held = HoldoutRule(0.0, r"docid:^(xq-\d+)-", folds=4, fold=1).heldout_qids(read_training(train))
    selection = tuple(ex for ex in read_training(train) if ex.query_id in held)
    corpus = JsonlCorpus(xquad / "en" / "corpus.jsonl", cache)
    return TrainingInput("en", corpus, training=str(train), excluded_qids=held, selection_examples=selection)


def _heldout_value(model: Path, inp: TrainingInput, config: FinetuneCrossEncoderTrainer.Config) -> float:
    """The saved model's held-out measure, scored as the trainer scores checkpoints."""
    from rankfw_crossencoder_nmt.scoring import usable_length
    from rankfw_crossencoder_nmt.training.loop import load_for_training, pair_scorer

    loaded, tokenizer = load_for_training(str(model), seed=0)
    selector = Selector([inp], config, "check")
    selector.evaluate(pair_scorer(loaded, tokenizer, usable_length(config.max_length, tokenizer, loaded), "cpu"), 0, 0)
    return selector.checkpoints[0]["value"]


def _train(model: Path, inp: TrainingInput, out: Path, tmp: Path, **params: object) -> tuple[dict, FinetuneCrossEncoderTrainer.Config]:  # type: ignore[type-arg]
    base = {"epochs": 2, "batch_size": 16, "max_length": 64, "num_negatives": 2, "negatives": "file", "device": "cpu"}
    config = FinetuneCrossEncoderTrainer.Config(model=str(model), select_on="heldout", **{**base, **params})  # type: ignore[arg-type]
    FinetuneCrossEncoderTrainer(config).train([inp], out, StageContext("ft", None, tmp / "work", tmp / "cache"))
    return json.loads((out / "selection.json").read_text()), config


def test_selection_keeps_the_best_checkpoint_and_saves_its_weights(tiny_encoder: Path, xquad: Path, tmp_path: Path) -> None:
    inp = _split_input(xquad, tmp_path / "cache")
    report, config = _train(tiny_encoder, inp, tmp_path / "m", tmp_path, lr=2e-3, select_every=6, interpolate=[0.5, 1.0])
    *trained, blend = report["checkpoints"]  # the kept checkpoint blended halfway toward the start (WiSE-FT), last
    steps = [c["step"] for c in trained]
    assert steps[0] == 0 and all(s % 6 == 0 for s in steps[1:-1]) and steps[-1] == max(steps)
    assert blend["interpolate"] == 0.5 and blend["step"] == max(trained, key=lambda c: c["value"])["step"]
    values = [c["value"] for c in report["checkpoints"]]
    assert report["winner"]["value"] == max(values) and report["winner"]["step"] > 0
    assert set(report["qids"]["en"]) == {ex.query_id for ex in inp.selection_examples}
    assert json.loads((tmp_path / "m" / "rankfw_training.json").read_text())["selected"] == report["winner"]
    assert _heldout_value(tmp_path / "m", inp, config) == pytest.approx(report["winner"]["value"], abs=1e-5)


@pytest.mark.slow
def test_a_later_checkpoint_made_worse_is_not_kept(tiny_encoder: Path, xquad: Path, tmp_path: Path) -> None:
    inp = _split_input(xquad, tmp_path / "cache")
    _train(tiny_encoder, inp, tmp_path / "good", tmp_path, lr=2e-3)
    report, config = _train(tmp_path / "good", inp, tmp_path / "wrecked", tmp_path, lr=0.5, warmup=0.0)
    values = [c["value"] for c in report["checkpoints"]]
    assert len(values) == 3 and max(values[1:]) < values[0] - 0.02  # the start, then each (wrecked) epoch
    assert report["winner"]["step"] == 0
    assert _heldout_value(tmp_path / "wrecked", inp, config) == pytest.approx(values[0], abs=1e-5)
