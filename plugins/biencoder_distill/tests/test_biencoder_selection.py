"""``select_on: heldout``: the fine-tune trainer keeps the checkpoint the held-out questions prefer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rankfw_biencoder_distill import FinetuneTrainer
from rankfw_biencoder_distill.testing import XQUAD, context, xquad

from rankfw.core import InputError, TrainingInput
from rankfw.data import read_training
from rankfw.data.holdout import HoldoutRule
from rankfw.models import Selector

FAST = {"device": "cpu", "max_length": 48, "freeze_embeddings": False, "warmup": 0.0}


def _split_input(cache: Path) -> TrainingInput:
    """English XQuAD training data with one article-level fold of four held out."""
    corpus, _, _ = xquad("en", cache)
    train = XQUAD / "en" / "train.jsonl.gz"
    held = HoldoutRule(0.0, r"docid:^(xq-\d+)-", folds=4, fold=0).heldout_qids(read_training(train))
    selection = tuple(ex for ex in read_training(train) if ex.query_id in held)
    return TrainingInput("en", corpus, training=str(train), excluded_qids=held, selection_examples=selection)


def _heldout_value(model: Path, inp: TrainingInput, config: FinetuneTrainer.Config, tmp: Path) -> float:
    """The held-out measure of a saved model, scored the way the trainer scores checkpoints."""
    from rankfw_biencoder_distill.training import Trainable, heldout_scorer

    selector = Selector([inp], config, "check")
    selector.evaluate(heldout_scorer(Trainable(config, str(model), tmp)), 0, 0)
    return selector.checkpoints[0]["value"]


def _train(model: Path, inp: TrainingInput, out: Path, tmp: Path, **params: object) -> tuple[dict, FinetuneTrainer.Config]:  # type: ignore[type-arg]
    config = FinetuneTrainer.Config(model=str(model), select_on="heldout", batch_size=32, **{**FAST, **params})  # type: ignore[arg-type]
    out.mkdir()
    FinetuneTrainer(config).train([inp], out, context(tmp, None))
    return json.loads((out / "selection.json").read_text()), config


def test_selection_keeps_the_best_checkpoint_on_heldout_questions(tiny_model: Path, xquad_cache: Path, tmp_path: Path) -> None:
    inp = _split_input(xquad_cache)
    report, config = _train(tiny_model, inp, tmp_path / "m", tmp_path, epochs=2, lr=5e-4, select_every=3)
    steps = [c["step"] for c in report["checkpoints"]]
    assert steps[0] == 0 and steps[-1] > steps[-2] and all(s % 3 == 0 for s in steps[1:-1])
    values = [c["value"] for c in report["checkpoints"]]
    assert report["winner"]["value"] == max(values) and report["winner"]["step"] > 0  # training helped
    assert report["measure"] == "nDCG@10" and set(report["qids"]["en"]) == {ex.query_id for ex in inp.selection_examples}
    assert not set(report["qids"]["en"]) & {ex.query_id for ex in inp.examples()}
    assert _heldout_value(tmp_path / "m", inp, config, tmp_path) == pytest.approx(report["winner"]["value"], abs=1e-5)


@pytest.mark.slow
def test_a_later_checkpoint_made_worse_is_not_kept(tiny_model: Path, xquad_cache: Path, tmp_path: Path) -> None:
    inp = _split_input(xquad_cache)
    _train(tiny_model, inp, tmp_path / "good", tmp_path, epochs=2, lr=2e-3)
    start = _heldout_value(tmp_path / "good", inp, FinetuneTrainer.Config(model=str(tmp_path / "good"), **FAST), tmp_path)
    # a learning rate that wrecks the model: every later checkpoint is worse than the start
    report, config = _train(tmp_path / "good", inp, tmp_path / "wrecked", tmp_path, epochs=2, lr=0.3)
    values = [c["value"] for c in report["checkpoints"]]
    assert report["checkpoints"][0]["step"] == 0 and len(values) == 3  # the start and each epoch
    assert values[0] == pytest.approx(start, abs=1e-5) and max(values[1:]) < start - 0.05
    assert report["winner"]["step"] == 0
    assert _heldout_value(tmp_path / "wrecked", inp, config, tmp_path) == pytest.approx(start, abs=1e-5)


def test_select_on_heldout_without_heldout_questions_is_an_input_error(tiny_model: Path, xquad_cache: Path, tmp_path: Path) -> None:
    corpus, _, _ = xquad("en", xquad_cache)
    inp = TrainingInput("en", corpus, training=str(XQUAD / "en" / "train.jsonl.gz"))
    config = FinetuneTrainer.Config(model=str(tiny_model), select_on="heldout", **FAST)
    with pytest.raises(InputError, match="select_on: heldout needs held-out"):
        FinetuneTrainer(config).train([inp], tmp_path, context(tmp_path, None))
    with pytest.raises(ValueError, match="unknown measure"):
        FinetuneTrainer.Config(select_measure="nDCG@ten")


def _trainable(model: Path, tmp: Path) -> dict:  # type: ignore[type-arg]
    from rankfw_biencoder_distill.training import Trainable

    from rankfw.models import trainable_state

    return trainable_state(Trainable(FinetuneTrainer.Config(model=str(model), **FAST), str(model), tmp).model)


def test_interpolation_blends_toward_the_start_and_selection_keeps_the_best_blend(
    tiny_model: Path, xquad_cache: Path, tmp_path: Path
) -> None:
    inp = _split_input(xquad_cache)
    # without selection, one coefficient: exactly (1-a)*start + a*tuned, with tuned = the same run unblended
    for name, a in (("tuned", 1.0), ("half", 0.5)):
        config = FinetuneTrainer.Config(model=str(tiny_model), batch_size=32, epochs=1, lr=2e-3, interpolate=[a], **FAST)
        (tmp_path / name).mkdir()
        FinetuneTrainer(config).train([inp], tmp_path / name, context(tmp_path, None))
    start, tuned, half = (_trainable(p, tmp_path) for p in (tiny_model, tmp_path / "tuned", tmp_path / "half"))
    moved = [n for n in start if not (start[n] == tuned[n]).all()]
    assert moved and all((half[n] - (start[n] + tuned[n]) / 2).abs().max() < 1e-5 for n in start)
    # with selection: every coefficient is a recorded checkpoint, the best of all is saved
    report, config = _train(tiny_model, inp, tmp_path / "wise", tmp_path, epochs=1, lr=2e-3, interpolate=[0.25, 0.5, 1.0])
    blends = [c for c in report["checkpoints"] if "interpolate" in c]
    assert [c["interpolate"] for c in blends] == [0.25, 0.5] and all(c["step"] == report["checkpoints"][-3]["step"] for c in blends)
    assert report["winner"]["value"] == max(c["value"] for c in report["checkpoints"])
    assert _heldout_value(tmp_path / "wise", inp, config, tmp_path) == pytest.approx(report["winner"]["value"], abs=1e-5)
    with pytest.raises(ValueError, match="need select_on: heldout"):
        FinetuneTrainer.Config(interpolate=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        FinetuneTrainer.Config(interpolate=[0.0])


def test_distill_leaves_out_parallel_text_of_heldout_articles(xquad_cache: Path, tmp_path: Path) -> None:
    from rankfw_biencoder_distill import DistillTrainer

    corpus, _, _ = xquad("de", xquad_cache)
    train, parallel = XQUAD / "de" / "train.jsonl.gz", str(XQUAD / "parallel" / "en-de.tsv")
    held = HoldoutRule(0.0, r"docid:^(xq-\d+)-", folds=4, fold=0).heldout_qids(read_training(train))
    selection = tuple(ex for ex in read_training(train) if ex.query_id in held)
    inp = TrainingInput("de", corpus, training=str(train), excluded_qids=held, selection_examples=selection, parallel=parallel)
    pairs, _, _ = DistillTrainer(DistillTrainer.Config(model="stage:x")).data([inp], context(tmp_path, None))
    texts = {ex.query for ex in selection} | {d.text for ex in selection for d in ex.positives}
    everything = TrainingInput("de", corpus, parallel=parallel).parallel_pairs()
    assert sum(any(h in t for h in texts) for _, t in everything) > 20  # the file does hold held-out text
    assert pairs["de"] and not any(h in t for _, t in pairs["de"] for h in texts)
