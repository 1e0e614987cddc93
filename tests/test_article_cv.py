"""``benchmarks/article_cv.py``'s bad input: one line naming what is wrong, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "article_cv.py"


def article_cv(*args: str) -> subprocess.CompletedProcess[str]:
    """The script in its own process, as a user runs it."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=120)


def test_a_missing_fold_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    done = article_cv(f"0={tmp_path / 'nowhere'}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and "not found" in lines[0]


def test_a_fold_without_a_name_is_refused(tmp_path: Path) -> None:
    done = article_cv(str(tmp_path))
    assert done.returncode == 2 and "a fold is NAME=FOLDER" in done.stderr and "Traceback" not in done.stderr


def test_must_beat_keeps_a_stage_that_loses_somewhere_on_the_tuning_folds_at_weight_0() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("article_cv", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grid = [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    # stage 1 is far better in en and a little worse in de on fold "a"; fold "b" is the scored one
    a = {"en": {(1.0, 0.0): {"q": 0.2}, (0.5, 0.5): {"q": 0.6}, (0.0, 1.0): {"q": 0.9}},
         "de": {(1.0, 0.0): {"q": 0.5}, (0.5, 0.5): {"q": 0.5}, (0.0, 1.0): {"q": 0.45}}}
    tables = {"a": a, "b": a}
    assert module.tuned_weights(tables, ["a"], grid) == (0.0, 1.0)
    assert module.tuned_weights(tables, ["a"], grid, must_beat=0) == (1.0, 0.0)
    assert module.tuned_weights(tables, ["a"], grid, must_beat=1) == (0.0, 1.0)  # stage 0 loses in en


def test_context_needs_a_docid_rule(tmp_path: Path) -> None:
    done = article_cv(f"0={tmp_path}", "--context", "title")
    assert done.returncode == 2 and "--context must be a docid:REGEX rule" in done.stderr and "Traceback" not in done.stderr


def test_the_context_weight_of_a_fold_is_the_one_best_on_the_other_folds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("article_cv", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # 0.3 wins on folds a and b, 0.7 (by far) on c: c is scored at 0.3 (chosen on a and b, not on itself);
    # a and b are scored at 0.7, which wins on the pooled questions of the other two
    scores = {"a": {0.3: 0.9, 0.7: 0.5}, "b": {0.3: 0.8, 0.7: 0.6}, "c": {0.3: 0.1, 0.7: 0.95}}
    fake = {f: {v: {"en": {"q1": s}} for v, s in by_value.items()} for f, by_value in scores.items()}
    monkeypatch.setattr(module, "context_tables", lambda folder, *rest: fake[Path(folder).name])
    rows: dict = {}
    args = SimpleNamespace(stages=["x"], context="docid:^(.)", context_weights=[0.3, 0.7])
    module.add_context_rows(rows, {f: (1.0,) for f in scores}, {f: f"/x/{f}" for f in scores}, args, None)
    assert rows["fused+context"] == {"a": {"en": 0.5}, "b": {"en": 0.6}, "c": {"en": 0.1}}
    assert rows["fused+context 0.7"]["c"] == {"en": 0.95}


def test_a_question_no_listed_stage_answers_counts_0(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.util

    from rankfw_fusion.tune import FusionWeightsConfig

    from rankfw.core import Run

    spec = importlib.util.spec_from_file_location("article_cv", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "stages" / "a").mkdir(parents=True)
    Run.from_scores({"q1": {"d": 1.0, "x": 0.5}}).write_trec(tmp_path / "stages" / "a" / "en.run")  # nothing for q2
    monkeypatch.setattr(module, "heldout_qrels", lambda folder: {"en": {"q1": {"d": 1}, "q2": {"d": 1}}})
    tables = module.fold_tables(tmp_path, ["a"], [(1.0,)], FusionWeightsConfig(measure="nDCG@10"))
    assert tables["en"][(1.0,)] == {"q1": 1.0, "q2": 0.0}  # the mean is .5 whichever other stages are listed
