"""Topic-aware batches: ``batch_group_by`` lays a language's training questions out article by
article, so in-batch negatives come from the positive's own article."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from rankfw_biencoder_distill import FinetuneTrainer
from rankfw_biencoder_distill import training as training_module
from rankfw_biencoder_distill.testing import XQUAD, context, xquad
from rankfw_biencoder_distill.training import count_batches, language_batches

from rankfw.core import InputError, TrainingInput

ARTICLE = r"docid:^(xq-\d+)-"
FAST = {"device": "cpu", "max_length": 32, "freeze_embeddings": False, "warmup": 0.0}


def english(cache: Path) -> TrainingInput:
    corpus, _, _ = xquad("en", cache)
    return TrainingInput("en", corpus, training=str(XQUAD / "en" / "train.jsonl.gz"))


def test_grouped_batches_hold_one_group_each_when_groups_fill_them() -> None:
    items = {"en": [(g, i) for g in range(5) for i in range(8)], "de": [(g, i) for g in range(3) for i in range(8)]}
    grouped = list(language_batches(items, 8, random.Random(0), lambda item: str(item[0])))
    mixed = list(language_batches(items, 8, random.Random(0)))
    assert len(grouped) == len(mixed) == count_batches(items, 8) == 8
    assert all(len({g for g, _ in batch}) == 1 for _, batch in grouped)
    assert sum(len({g for g, _ in batch}) > 1 for _, batch in mixed) >= 6  # random batches mix articles
    for lang in items:  # every item exactly once
        assert sorted(x for name, batch in grouped if name == lang for x in batch) == sorted(items[lang])


def test_examples_carry_their_article_and_a_pattern_that_misses_names_the_parameter(xquad_cache: Path) -> None:
    trainer = FinetuneTrainer(FinetuneTrainer.Config(batch_group_by=ARTICLE))
    examples = trainer.examples(english(xquad_cache))
    assert examples and all(ex.group == "-".join(ex.positives[0].docid.split("-")[:2]) for ex in examples)
    assert len({ex.group for ex in examples}) == 12  # the 12 training articles
    assert {ex.group for ex in FinetuneTrainer(FinetuneTrainer.Config()).examples(english(xquad_cache))} == {""}
    with pytest.raises(InputError) as err:
        FinetuneTrainer(FinetuneTrainer.Config(batch_group_by=r"docid:^(zz-\d+)-")).examples(english(xquad_cache))
    assert err.value.where == "batch_group_by" and "batch_group_by" in err.value.message


def test_a_bad_batch_group_by_is_rejected_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs a capture group"):
        FinetuneTrainer.Config(batch_group_by="docid:xq-")


@pytest.mark.parametrize("group_by", [ARTICLE, None])
def test_training_cuts_its_batches_by_article_only_when_asked(
    group_by: str | None, tiny_model: Path, xquad_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []
    real = training_module.language_batches

    def spy(*args: Any, **kwargs: Any) -> Any:
        for language, batch in real(*args, **kwargs):
            seen.append([ex.positives[0].docid.split("-")[1] for ex in batch])
            yield language, batch

    monkeypatch.setattr(training_module, "language_batches", spy)
    cfg = FinetuneTrainer.Config(model=str(tiny_model), epochs=1, batch_size=16, lr=1e-4, batch_group_by=group_by, **FAST)
    out = tmp_path / "model"
    out.mkdir()
    FinetuneTrainer(cfg).train([english(xquad_cache)], out, context(tmp_path, None))
    assert (out / "model.safetensors").is_file()
    articles_per_batch = [len(set(batch)) for batch in seen]
    assert len(seen) == -(-len(FinetuneTrainer(cfg).examples(english(xquad_cache))) // 16)
    if group_by:  # 18-74 questions per article, batches of 16: one article, or two where one ends
        assert max(articles_per_batch) <= 2 and sum(n == 1 for n in articles_per_batch) >= len(seen) // 3
    else:
        assert sum(articles_per_batch) / len(seen) > 5
