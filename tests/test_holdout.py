"""Held-out splits by group (query, title, docid pattern), k folds, and what trainers get to see."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rankfw.core import InputError, StageContext, Trainer, TrainingInput, hookimpl
from rankfw.core.registry import Registry
from rankfw.data import read_training
from rankfw.data.holdout import HoldoutRule, is_heldout
from rankfw.run.runner import Runner
from rankfw.spec import load_spec

ARTICLE = r"docid:^(xq-\d+)-"


def _article(docid: str) -> str:
    match = re.match(r"^(xq-\d+)-", docid)
    assert match
    return match.group(1)


class RecordingTrainer(Trainer):
    """Writes the qids (and articles) of every training and selection example it is given."""

    description = "records what a trainer sees (test)"

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        seen = {
            inp.language: {
                "train": [(ex.query_id, ex.positives[0].docid) for ex in inp.examples()],
                "topics": sorted(inp.topics),
                "selection": [ex.query_id for ex in inp.selection_examples],
            }
            for inp in inputs
        }
        (output_dir / "seen.json").write_text(json.dumps(seen))


class _Plugin:
    @staticmethod
    @hookimpl
    def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
        register("recorder", RecordingTrainer)


@pytest.fixture
def recording(registry: Registry) -> Registry:
    registry.add_plugin(_Plugin(), "recorder")
    return registry


def _rule_split(lang_dir: Path, rule: HoldoutRule) -> frozenset[str]:
    return rule.heldout_qids(read_training(lang_dir / "train.jsonl.gz"))


def test_docid_groups_hold_out_whole_articles_and_the_same_qids_in_every_language(xquad: Path) -> None:
    rule = HoldoutRule(0.3, ARTICLE)
    examples = {lang: list(read_training(xquad / lang / "train.jsonl.gz")) for lang in ("en", "de", "th")}
    held = {lang: rule.heldout_qids(exs) for lang, exs in examples.items()}
    assert held["en"] and held["en"] == held["de"]
    en = examples["en"]
    held_articles = {_article(ex.positives[0].docid) for ex in en if ex.query_id in held["en"]}
    kept_articles = {_article(ex.positives[0].docid) for ex in en if ex.query_id not in held["en"]}
    assert held_articles and kept_articles and not held_articles & kept_articles
    # Thai has the same articles: its held-out questions are the shared ones of the same articles
    shared = {ex.query_id for ex in examples["th"]} & {ex.query_id for ex in en}
    assert held["th"] & shared == held["en"] & shared
    # per query (the default), questions of one article straddle the split
    per_query = HoldoutRule(0.3).heldout_qids(en)
    assert per_query == {ex.query_id for ex in en if is_heldout(ex.query_id, 0.3)}
    straddling = {_article(ex.positives[0].docid) for ex in en if ex.query_id in per_query} & kept_articles
    assert straddling


def test_folds_partition_the_articles(xquad: Path) -> None:
    examples = list(read_training(xquad / "en" / "train.jsonl.gz"))
    folds = [HoldoutRule(0.0, ARTICLE, folds=4, fold=i).heldout_qids(examples) for i in range(4)]
    assert all(folds)
    assert sum(map(len, folds)) == len(examples) and set().union(*folds) == {ex.query_id for ex in examples}
    articles = [{_article(ex.positives[0].docid) for ex in examples if ex.query_id in f} for f in folds]
    assert sum(map(len, articles)) == len(set().union(*articles))  # no article in two folds
    assert folds[0] == HoldoutRule(0.0, ARTICLE, folds=4, fold=0).heldout_qids(reversed(examples))  # order-free


def test_title_groups_and_a_docid_that_does_not_match(xquad: Path) -> None:
    examples = list(read_training(xquad / "en" / "train.jsonl.gz"))
    held = HoldoutRule(0.0, "title", folds=3, fold=1).heldout_qids(examples)
    titles = {ex.positives[0].title for ex in examples if ex.query_id in held}
    assert titles and not titles & {ex.positives[0].title for ex in examples if ex.query_id not in held}
    with pytest.raises(InputError, match="does not match holdout_group_by"):
        HoldoutRule(0.5, r"docid:^(zz)-").heldout_qids(examples)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  holdout: 0.2\n  holdout_folds: 5\n", "not both"),
        ("  holdout_folds: 5\n  holdout_fold: 5\n", "not below holdout_folds"),
        ("  holdout_fold: 1\n", "holdout_fold needs holdout_folds"),
        ('  holdout_group_by: "docid:^xq-"\n', "needs a capture group"),
        ("  holdout_group_by: article\n", "unknown holdout_group_by"),
    ],
)
def test_bad_holdout_settings_are_one_line_spec_errors(
    tmp_path: Path, xquad: Path, registry: Registry, write_spec, extra: str, message: str  # type: ignore[no-untyped-def]
) -> None:
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", "  idf: {kind: train, component: idf}\n", extra=extra)
    with pytest.raises(InputError, match=message) as e:
        load_spec(spec, registry)
    assert "dataset" in str(e.value) and "\n" not in str(e.value)


def test_no_trainer_sees_a_heldout_group(tmp_path: Path, xquad: Path, recording: Registry, write_spec) -> None:  # type: ignore[no-untyped-def]
    extra = f"  holdout_group_by: '{ARTICLE}'\n" f'  holdout_folds: 4\n  holdout_fold: 2\n'
    spec = write_spec(tmp_path / "s.yaml", xquad, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 5}, topics: train}
  rec: {kind: train, component: recorder, inputs: [first], topics: train}
""", extra=extra)
    runner = Runner(load_spec(spec, recording), cache_dir=tmp_path / "cache")
    runner.run()
    seen = json.loads((tmp_path / "out/stages/rec/model/seen.json").read_text())
    held_en = runner.data["en"].heldout_qids
    assert held_en and held_en == runner.data["de"].heldout_qids
    train = list(read_training(xquad / "en" / "train.jsonl.gz"))
    held_articles = {_article(ex.positives[0].docid) for ex in train if ex.query_id in held_en}
    for lang in ("en", "de"):
        trained = seen[lang]["train"]
        assert trained and not {_article(docid) for _, docid in trained} & held_articles
        assert not {q for q, _ in trained} & held_en and not set(seen[lang]["topics"]) & held_en
        assert set(seen[lang]["selection"]) == held_en  # held-out examples come separately
    assert runner.data["en"].fingerprint["holdout_folds"] == 4
    other = Runner(load_spec(spec, recording, ["dataset.holdout_fold=3"]), cache_dir=tmp_path / "cache")
    assert other.key("rec", "model").key != runner.key("rec", "model").key and not other.data["en"].heldout_qids & held_en


def test_validate_reports_the_split_and_warns_when_languages_hold_out_different_questions(
    tmp_path: Path, tiny: Path, xquad: Path, registry: Registry, write_spec  # type: ignore[no-untyped-def]
) -> None:
    from rankfw.spec.preflight import preflight

    def check(root: Path, extra: str) -> tuple[list[str], list[str], Runner]:
        spec = write_spec(tmp_path / "s.yaml", root, tmp_path / "out", "  idf: {kind: train, component: idf}\n", extra=extra)
        runner = Runner(load_spec(spec, registry), cache_dir=tmp_path / "cache")
        report = preflight(runner.pipeline, {lang: runner.needed_sources(lang) for lang in ("en", "de")})
        return report.lines, report.warnings, runner

    # the tiny collection's titles are translated (Cats / Katzen): grouping by title splits en and de apart
    lines, warnings, runner = check(tiny, "  holdout_group_by: title\n  holdout_folds: 2\n")
    assert runner.data["en"].heldout_qids != runner.data["de"].heldout_qids
    assert any(line.startswith("holdout: 2 of 4 training questions held out (2 groups, fold 0 of 2 by title)") for line in lines)
    assert len(warnings) == 1 and "held out in one language only" in warnings[0]
    lines, warnings, _ = check(xquad, f"  holdout_group_by: '{ARTICLE}'\n  holdout_folds: 5\n")
    assert not warnings and any(line.startswith("holdout: ") and line.endswith("[en, de]") for line in lines)
