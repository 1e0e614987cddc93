"""The trainers learn: fine-tuning and distillation make the tiny model rank XQuAD dev better."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from rankfw_biencoder_distill import BiEncoderReranker, DistillTrainer, FinetuneTrainer
from rankfw_biencoder_distill.testing import XQUAD, context, ndcg10, xquad

from rankfw.core import InputError, Run, TrainingInput
from rankfw.data import read_parallel

FAST = {"device": "cpu", "max_length": 48, "freeze_embeddings": False, "warmup": 0.0, "temperature": 0.05}


def dev_ndcg(model: Path, lang: str, cache: Path, tmp: Path) -> float:
    """nDCG@10 of the model ranking the whole corpus for every dev question."""
    corpus, topics, qrels = xquad(lang, cache)
    every = Run.from_scores({q: {d.docid: 0.0 for d in corpus} for q in topics})
    reranker = BiEncoderReranker(BiEncoderReranker.Config(model=str(model), device="cpu", cache_embeddings=False))
    return ndcg10(reranker.rerank(topics, every, corpus, context(tmp, lang)), qrels)


def mean_cosine_to_english(model: Path, lang: str, teacher: Path) -> float:
    """Mean cosine between the model's vectors of ``lang`` dev questions and the teacher's of English ones."""
    from sentence_transformers import SentenceTransformer

    from rankfw.data import read_topics

    target = read_topics(XQUAD / lang / "topics.dev.tsv")
    english = read_topics(XQUAD / "en" / "topics.dev.tsv")
    qids = [q for q in target if q in english]
    s = SentenceTransformer(str(model), device="cpu").encode([target[q] for q in qids], normalize_embeddings=True)
    t = SentenceTransformer(str(teacher), device="cpu").encode([english[q] for q in qids], normalize_embeddings=True)
    return float(np.mean(np.sum(s * t, axis=1)))


@pytest.fixture(scope="module")
def finetuned(tiny_model: Path, xquad_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model fine-tuned on English XQuAD training questions."""
    corpus, _, _ = xquad("en", xquad_cache)
    tmp = tmp_path_factory.mktemp("finetune")
    trainer = FinetuneTrainer(FinetuneTrainer.Config(model=str(tiny_model), epochs=3, batch_size=32, lr=2e-3, **FAST))
    out = tmp / "model"
    out.mkdir()
    trainer.train([TrainingInput("en", corpus, training=str(XQUAD / "en" / "train.jsonl.gz"))], out, context(tmp, None))
    return out


def test_finetune_improves_english_dev_and_saves_a_loadable_model(
    tiny_model: Path, finetuned: Path, xquad_cache: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    before = dev_ndcg(tiny_model, "en", xquad_cache, tmp_path)
    after = dev_ndcg(finetuned, "en", xquad_cache, tmp_path)
    assert after > before + 0.05, (before, after)
    assert (finetuned / "model.safetensors").is_file()
    assert SentenceTransformer(str(finetuned), device="cpu").encode(["ein Satz"]).shape == (1, 64)


def test_the_saved_model_keeps_its_own_length_limit_not_the_training_length(tiny_model: Path, finetuned: Path) -> None:
    """Trained at max_length 48, saved with the base model's limit: later stages must not truncate at 48."""
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(tiny_model), device="cpu").max_seq_length
    assert base > FAST["max_length"]
    assert SentenceTransformer(str(finetuned), device="cpu").max_seq_length == base


def test_distill_data_pairs_and_ranking_items(xquad_cache: Path, tmp_path: Path) -> None:
    corpus_en, _, _ = xquad("en", xquad_cache)
    corpus_de, _, _ = xquad("de", xquad_cache)
    parallel = str(XQUAD / "parallel" / "en-de.tsv")
    with_en = [
        TrainingInput("en", corpus_en, training=str(XQUAD / "en" / "train.jsonl.gz")),
        TrainingInput("de", corpus_de, parallel=parallel),
    ]
    trainer = DistillTrainer(DistillTrainer.Config(model="stage:x", candidates=4, max_pairs=100))
    pairs, ranks, queries = trainer.data(with_en, context(tmp_path, None))
    assert len(pairs["de"]) == 100 and len(ranks["de"]) > 100
    # the English training questions are known as queries (query prefix); sentences are not
    english_questions = {i.query_en for i in ranks["de"]}
    assert english_questions <= queries
    assert not queries & {p for i in ranks["de"] for p in i.passages_en}
    table = dict(read_parallel(parallel))
    for item in ranks["de"]:
        assert table[item.query_en] == item.query_tgt and 2 <= len(item.passages_en) <= 4
        assert [table[p] for p in item.passages_en] == item.passages_tgt
    # without an English input, the German training queries are mapped back to English
    own = [TrainingInput("de", corpus_de, training=str(XQUAD / "de" / "train.jsonl.gz"), parallel=parallel)]
    _, back, own_queries = trainer.data(own, context(tmp_path, None))
    assert english_questions <= own_queries
    assert {i.query_en for i in back["de"]} == {i.query_en for i in ranks["de"]}


def test_distill_takes_parallel_text_from_a_translate_train_folder_where_the_dataset_has_none(
    xquad_cache: Path, tmp_path: Path
) -> None:
    """MIRACL has no parallel text: before ``params.parallel`` distill failed there ('no non-English
    language with parallel text'); now it reads a translate-train stage's translations/<lang>.tsv."""
    corpus_en, _, _ = xquad("en", xquad_cache)
    corpus_de, _, _ = xquad("de", xquad_cache)
    inputs = [TrainingInput("en", corpus_en, training=str(XQUAD / "en" / "train.jsonl.gz")), TrainingInput("de", corpus_de)]
    with pytest.raises(InputError, match="no non-English language with parallel text"):
        DistillTrainer(DistillTrainer.Config(model="stage:x")).data(inputs, context(tmp_path, None))
    stage = tmp_path / "tt-model"
    (stage / "translations").mkdir(parents=True)
    lines = (XQUAD / "parallel" / "en-de.tsv").read_text(encoding="utf-8").splitlines()[:300]
    (stage / "translations" / "de.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    trainer = DistillTrainer(DistillTrainer.Config(model="stage:x", candidates=4, parallel=str(stage)))
    pairs, ranks, _ = trainer.data(inputs, context(tmp_path, None))
    assert pairs["de"] == [tuple(line.split("\t")) for line in lines]
    table = dict(pairs["de"])
    assert ranks["de"] and all(table[i.query_en] == i.query_tgt for i in ranks["de"])
    with pytest.raises(InputError, match="params.parallel"):
        DistillTrainer(DistillTrainer.Config(model="stage:x", parallel=str(tmp_path / "none"))).data(inputs, context(tmp_path, None))


@pytest.mark.slow
def test_distill_pulls_german_towards_the_english_teacher(
    finetuned: Path, xquad_cache: Path, tmp_path: Path
) -> None:
    corpus_en, _, _ = xquad("en", xquad_cache)
    corpus_de, _, _ = xquad("de", xquad_cache)
    inputs = [
        TrainingInput("en", corpus_en, training=str(XQUAD / "en" / "train.jsonl.gz")),
        TrainingInput("de", corpus_de, training=str(XQUAD / "de" / "train.jsonl.gz"), parallel=str(XQUAD / "parallel" / "en-de.tsv")),
    ]
    config = DistillTrainer.Config(
        model=str(finetuned), epochs=2, batch_size=32, lr=1e-3, candidates=4, queries_per_batch=16, max_pairs=200, max_queries=64, **FAST
    )
    trainer = DistillTrainer(config)
    pairs, ranks, _ = trainer.data(inputs, context(tmp_path, None))
    assert len(pairs["de"]) == 200 and len(ranks["de"]) == 64
    out = tmp_path / "distilled"
    out.mkdir()
    trainer.train(inputs, out, context(tmp_path, None))
    # Unseen dev questions: German vectors moved towards the teacher's English ones. (On this tiny
    # model the German dev ranking itself does not reliably improve; see the plugin README.)
    assert mean_cosine_to_english(out, "de", finetuned) > mean_cosine_to_english(finetuned, "de", finetuned) + 0.04


def test_distill_skips_pairs_that_would_be_truncated(tiny_model: Path, tmp_path: Path) -> None:
    from rankfw_biencoder_distill.training import Trainable

    student = Trainable(DistillTrainer.Config(model=str(tiny_model), **{**FAST, "max_length": 24}), str(tiny_model), tmp_path)
    short, long = ("the river", "der Fluss"), ("the river " * 20, "der Fluss " * 20)
    messages: list[str] = []
    ctx = dataclasses.replace(context(tmp_path, None), log=messages.append)
    kept = DistillTrainer._untruncated({"de": [short, long], "el": [long]}, student, ctx)
    assert kept == {"de": [short]}
    assert any("1 of 2 pairs longer than" in m for m in messages)


def test_freeze_layers_stops_the_bottom_layers_gradients(tiny_model: Path, tmp_path: Path) -> None:
    from rankfw_biencoder_distill.training import Trainable

    model = Trainable(FinetuneTrainer.Config(model=str(tiny_model), freeze_layers=1, **FAST), str(tiny_model), tmp_path)
    layers = model.model.transformers_model.encoder.layer
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())
    with pytest.raises(InputError, match="only 2 layers"):
        Trainable(FinetuneTrainer.Config(model=str(tiny_model), freeze_layers=3, **FAST), str(tiny_model), tmp_path)


def test_trainers_reject_missing_data(xquad_cache: Path, tmp_path: Path) -> None:
    corpus, _, _ = xquad("de", xquad_cache)
    with pytest.raises(InputError, match="parallel"):
        DistillTrainer(DistillTrainer.Config(model="stage:never-loaded")).train([TrainingInput("de", corpus)], tmp_path, context(tmp_path, None))
    with pytest.raises(InputError, match="no training examples"):
        FinetuneTrainer(FinetuneTrainer.Config(model="stage:never-loaded")).train([TrainingInput("de", corpus)], tmp_path, context(tmp_path, None))
    with pytest.raises(InputError, match="run"):
        trainer = FinetuneTrainer(FinetuneTrainer.Config(model="stage:never-loaded", negatives_from="run"))
        trainer.train([TrainingInput("de", corpus, training=str(XQUAD / "de" / "train.jsonl.gz"))], tmp_path, context(tmp_path, None))


def test_the_same_finetuning_writes_the_same_model_folder(tiny_model: Path, xquad_cache: Path, tmp_path: Path) -> None:
    """Byte for byte: a retraining with nothing changed leaves the stages that read the model
    cached (their keys hold its content digest, rankfw.run.done.content_digest)."""
    from rankfw.run.done import content_digest

    corpus, _, _ = xquad("en", xquad_cache)
    config = FinetuneTrainer.Config(model=str(tiny_model), epochs=1, batch_size=16, lr=2e-3, max_examples=32, **FAST)
    digests = []
    for name in ("a", "b"):
        FinetuneTrainer(config).train([TrainingInput("en", corpus, training=str(XQUAD / "en" / "train.jsonl.gz"))],
                                      tmp_path / name, context(tmp_path / name, None))
        digests.append(content_digest(tmp_path / name))
    assert digests[0] == digests[1]
