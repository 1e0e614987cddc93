"""The fusion-weights trainer finds the weights of a constructed case and writes them for `weighted`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError
from rankfw_fusion.grid import simplex_grid
from rankfw_fusion.tune import FusionWeightsTrainer
from rankfw_fusion.weighted import WeightedFuser

from rankfw.core import InputError, Run, StageContext, TrainingInput

QRELS = {"q1": {"d": 1}, "q2": {"d": 1}}


def constructed_runs(low: float, high: float) -> dict[str, Run]:
    """Raw scores (norm: none) where the relevant ``d`` beats ``x`` in q1 iff w_a > low and in q2 iff
    w_a < high (with w_c = 0); any weight on run c lifts ``x``."""
    b_x = low / (1 - low)  # q1: w_a * 1 > w_b * b_x
    b_d = high / (1 - high)  # q2: w_b * b_d > w_a * 1
    return {
        "a": Run.from_scores({"q1": {"d": 1.0, "x": 0.0}, "q2": {"d": 0.0, "x": 1.0}}),
        "b": Run.from_scores({"q1": {"d": 0.0, "x": b_x}, "q2": {"d": b_d, "x": 0.0}}),
        "c": Run.from_scores({"q1": {"x": 1.0}, "q2": {"x": 1.0}}),
    }


def training_input(language: str, runs: dict[str, Run]) -> TrainingInput:
    # the trainer never touches the corpus
    return TrainingInput(language=language, corpus=None, qrels=QRELS, runs=runs)  # type: ignore[arg-type]


def ctx(tmp_path: Path) -> StageContext:
    return StageContext("tune", None, tmp_path, tmp_path)


def test_simplex_grid() -> None:
    grid = simplex_grid(3, 0.5)
    assert sorted(grid) == sorted([(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
    assert len(simplex_grid(5, 0.1)) == 1001
    assert all(abs(sum(p) - 1) < 1e-12 for p in simplex_grid(4, 0.2))


def test_trainer_finds_the_only_right_weights(tmp_path: Path) -> None:
    trainer = FusionWeightsTrainer(FusionWeightsTrainer.Config(norm="none", step=0.1, measure="nDCG@10"))
    trainer.train([training_input("en", constructed_runs(0.65, 0.75))], tmp_path, ctx(tmp_path))
    tuned = json.loads((tmp_path / "weights.json").read_text())
    assert tuned["weights"] == pytest.approx([0.7, 0.3, 0.0])
    assert tuned["score"] == pytest.approx(1.0)
    assert tuned["grid_size"] == 66 and tuned["runs"] == ["a", "b", "c"] and tuned["norm"] == "none"
    grid = (tmp_path / "grid.tsv").read_text().splitlines()
    assert grid[0].split("\t") == ["a", "b", "c", "en", "mean"] and len(grid) == 67
    # the weighted fuser, given the folder, ranks d first in both queries
    fuser = WeightedFuser(WeightedFuser.Config(norm="none", weights=str(tmp_path)))
    runs = constructed_runs(0.65, 0.75)
    fused = fuser.fuse(list(runs.values()), StageContext("w", "en", tmp_path, tmp_path))
    assert fused["q1"][0][0] == "d" and fused["q2"][0][0] == "d"
    assert {d for h in fused.values() for d, _ in h} == {"d", "x"}


def test_per_language_weights_and_the_mean(tmp_path: Path) -> None:
    inputs = [training_input("en", constructed_runs(0.65, 0.75)), training_input("de", constructed_runs(0.25, 0.35))]
    config = FusionWeightsTrainer.Config(norm="none", step=0.1, per_language=True, measure="P@1")
    FusionWeightsTrainer(config).train(inputs, tmp_path, ctx(tmp_path))
    tuned = json.loads((tmp_path / "weights.json").read_text())
    assert tuned["per_language"]["en"]["weights"] == pytest.approx([0.7, 0.3, 0.0])
    assert tuned["per_language"]["de"]["weights"] == pytest.approx([0.3, 0.7, 0.0])
    assert tuned["per_language"]["de"]["score"] == pytest.approx(1.0)
    # no shared weights serve both: the mean is 0.75 at best (one query of one language lost)
    assert tuned["score"] == pytest.approx(0.75)
    assert sum(tuned["scores_by_language"].values()) / 2 == pytest.approx(0.75)


def test_runs_option_limits_the_search(tmp_path: Path) -> None:
    config = FusionWeightsTrainer.Config(norm="none", step=0.5, runs=["a", "c"])
    FusionWeightsTrainer(config).train([training_input("en", constructed_runs(0.65, 0.75))], tmp_path, ctx(tmp_path))
    tuned = json.loads((tmp_path / "weights.json").read_text())
    assert tuned["weights"][1] == 0.0 and tuned["grid_size"] == 3


def test_bad_trainer_input(tmp_path: Path) -> None:
    runs = constructed_runs(0.65, 0.75)
    with pytest.raises(InputError, match="runs must name input stages"):
        FusionWeightsTrainer(FusionWeightsTrainer.Config(runs=["zz"])).train(
            [training_input("en", runs)], tmp_path, ctx(tmp_path)
        )
    other = training_input("de", {"a": runs["a"]})
    with pytest.raises(InputError, match="language 'de' has runs"):
        FusionWeightsTrainer().train([training_input("en", runs), other], tmp_path, ctx(tmp_path))
    with pytest.raises(InputError, match="needs the runs"):
        FusionWeightsTrainer().train([training_input("en", {})], tmp_path, ctx(tmp_path))
    with pytest.raises(ValidationError, match="measure"):
        FusionWeightsTrainer.Config(measure="nDCG@ten")
    with pytest.raises(ValidationError, match="whole number"):
        FusionWeightsTrainer.Config(step=0.3)
    with pytest.raises(InputError, match="use a larger step"):
        simplex_grid(12, 0.02)


@pytest.mark.parametrize("norm", ["min-max", "borda", "rank", "z-score"])
def test_grid_scores_equal_evaluating_the_weighted_fuser(tmp_path: Path, norm: str) -> None:
    import random

    from rankfw.run.evaluate import evaluate

    rng = random.Random(7)
    runs = {
        name: Run.from_scores({f"q{q}": {f"d{rng.randrange(30)}": rng.random() for _ in range(15)} for q in range(8)})
        for name in ("a", "b", "c")
    }
    qrels = {f"q{q}": {f"d{rng.randrange(30)}": 1 for _ in range(3)} for q in range(8)}
    inp = TrainingInput(language="en", corpus=None, qrels=qrels, runs=runs)  # type: ignore[arg-type]
    FusionWeightsTrainer(FusionWeightsTrainer.Config(norm=norm, step=0.5, measure="nDCG@5")).train(
        [inp], tmp_path, ctx(tmp_path)
    )
    rows = [line.split("\t") for line in (tmp_path / "grid.tsv").read_text().splitlines()[1:]]
    assert len(rows) == 6
    for row in rows:
        weights = [float(w) for w in row[:3]]
        fused = WeightedFuser(WeightedFuser.Config(norm=norm, weights=weights)).fuse(
            list(runs.values()), StageContext("w", "en", tmp_path, tmp_path)
        )
        # as the pipeline evaluates the written run file
        path = tmp_path / "fused.run"
        fused.write_trec(path)
        expected = evaluate(Run.read_trec(path), qrels, ["nDCG@5"])["nDCG@5"]
        assert float(row[3]) == pytest.approx(expected, abs=1e-6)


def gated_runs(mixed_finds_d: bool) -> dict[str, Run]:
    """``bm25`` ranks the relevant ``d`` second, ``good`` first; ``mixed`` ranks it first where
    ``mixed_finds_d`` and misses it otherwise."""
    mixed = {"d": 1.0, "x": 0.5} if mixed_finds_d else {"x": 1.0}
    return {
        "bm25": Run.from_scores({q: {"x": 1.0, "d": 0.5} for q in QRELS}),
        "good": Run.from_scores({q: {"d": 1.0, "x": 0.5} for q in QRELS}),
        "mixed": Run.from_scores({q: dict(mixed) for q in QRELS}),
    }


def test_must_beat_keeps_a_run_that_loses_to_the_baseline_in_one_language_at_weight_0(tmp_path: Path) -> None:
    inputs = [training_input("en", gated_runs(True)), training_input("de", gated_runs(False))]
    free, gated = tmp_path / "free", tmp_path / "gated"
    FusionWeightsTrainer(FusionWeightsTrainer.Config(step=0.5)).train(inputs, free, ctx(free))
    logs: list[str] = []
    context = StageContext("tune", None, gated, gated, log=logs.append)
    FusionWeightsTrainer(FusionWeightsTrainer.Config(step=0.5, must_beat="bm25")).train(inputs, gated, context)
    without, tuned = (json.loads((p / "weights.json").read_text()) for p in (free, gated))
    assert without["grid_size"] == 6 and without["excluded"] == {} and without["must_beat"] is None
    # mixed: nDCG@10 1.0 in en (above bm25's 1/log2(3)), 0 in de: searched no more
    bm25_ndcg = 1 / math.log2(3)
    assert tuned["must_beat"] == "bm25" and list(tuned["excluded"]) == ["mixed"]
    assert tuned["excluded"]["mixed"] == {"de": pytest.approx([0.0, bm25_ndcg])}
    assert tuned["grid_size"] == 3 and tuned["weights"][2] == 0.0 and tuned["weights"] == pytest.approx([0.0, 1.0, 0.0])
    assert any("mixed gets weight 0: not above bm25 in de 0.0000 <= 0.6309" in line for line in logs), logs
    rows = [line.split("\t") for line in (gated / "grid.tsv").read_text().splitlines()[1:]]
    assert all(row[2] == "0" for row in rows)
    with pytest.raises(InputError, match="must_beat must name an input stage") as bad:
        FusionWeightsTrainer(FusionWeightsTrainer.Config(must_beat="bm25_ho")).train(inputs, tmp_path, ctx(tmp_path))
    assert bad.value.where == "stages.tune.params.must_beat"


def test_a_question_no_run_has_hits_for_counts_0_in_every_score(tmp_path: Path) -> None:
    # q3 is judged but neither run answers it: every weighting scores it 0 (the mean is over the three
    # questions, as the pipeline evaluates the fused run), not the mean of the two the runs answer
    runs = {"a": Run.from_scores({"q1": {"d": 1.0, "x": 0.0}}),
            "b": Run.from_scores({"q1": {"x": 1.0, "d": 0.0}, "q2": {"d": 1.0}})}
    qrels = {**QRELS, "q3": {"d": 1}}
    inp = TrainingInput(language="en", corpus=None, qrels=qrels, runs=runs)  # type: ignore[arg-type]
    trainer = FusionWeightsTrainer(FusionWeightsTrainer.Config(norm="none", step=0.5, measure="nDCG@10"))
    trainer.train([inp], tmp_path, ctx(tmp_path))
    lines = (tmp_path / "grid.tsv").read_text().splitlines()[1:]
    rows = {tuple(line.split("\t")[:2]): float(line.split("\t")[2]) for line in lines}
    assert rows[("1", "0")] == pytest.approx(1 / 3)  # q1 found first; q2 missing (0); q3 missing (0)
    assert rows[("0", "1")] == pytest.approx((1 / math.log2(3) + 1) / 3)
    assert json.loads((tmp_path / "weights.json").read_text())["score"] <= 2 / 3 + 1e-9
