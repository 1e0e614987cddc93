"""Training a tiny cross-encoder on the shipped data: it must rank dev questions better afterwards."""

from __future__ import annotations

import random
from pathlib import Path

import ir_measures
import pytest

from rankfw.core import Run, StageContext, TrainingInput
from rankfw.core.data import JsonlCorpus, read_qrels, read_topics
from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker
from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer, TranslateTrainTrainer


def article_candidates(corpus: JsonlCorpus, qrels: dict[str, dict[str, int]], n: int, seed: int = 0) -> Run:
    """Per question: its relevant sentence and other sentences of the same article (a fixed shuffle)."""
    by_article: dict[str, list[str]] = {}
    for doc in corpus:
        by_article.setdefault(doc.docid.rsplit("-", 2)[0], []).append(doc.docid)
    rng = random.Random(seed)
    hits = {}
    for qid, judged in qrels.items():
        relevant = next(iter(judged))
        others = [d for d in by_article[relevant.rsplit("-", 2)[0]] if d != relevant]
        picked = [relevant, *rng.sample(others, min(n - 1, len(others)))]
        rng.shuffle(picked)
        hits[qid] = [(d, 0.0) for d in picked]
    return Run.from_ranked(hits)


def ndcg10(run: Run, qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 of ``run``."""
    return ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run.scores())[ir_measures.nDCG @ 10]


@pytest.fixture(scope="module")
def dev(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, JsonlCorpus, Run]:
    """100 English dev questions with 10 same-article candidates each."""
    cache = tmp_path_factory.mktemp("cache")
    corpus = JsonlCorpus(xquad / "en" / "corpus.jsonl", cache)
    qrels = dict(list(read_qrels(xquad / "en" / "qrels.dev.txt").items())[:100])
    topics = {q: t for q, t in read_topics(xquad / "en" / "topics.dev.tsv").items() if q in qrels}
    return topics, qrels, corpus, article_candidates(corpus, qrels, 10)


def _ctx(tmp_path: Path, stage: str, language: str | None = "en") -> StageContext:
    return StageContext(stage, language, tmp_path / stage, tmp_path / "cache", log=print)


def _score(model: Path, dev: tuple, tmp_path: Path) -> float:
    topics, qrels, corpus, candidates = dev
    reranker = CrossEncoderReranker(CrossEncoderReranker.Config(model=str(model), device="cpu", max_length=96))
    return ndcg10(reranker.rerank(topics, candidates, corpus, _ctx(tmp_path, "ce")), qrels)


def test_translate_train_learns_and_loads_in_sentence_transformers(
    tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path
) -> None:
    from sentence_transformers import CrossEncoder

    corpus = dev[2]
    inputs = [TrainingInput("en", corpus, training=str(xquad / "en" / "train.jsonl.gz"))]
    config = TranslateTrainTrainer.Config(
        model=str(tiny_encoder), epochs=4, batch_size=16, lr=1e-3, max_length=96, num_negatives=3, device="cpu",
    )
    out = tmp_path / "model"
    TranslateTrainTrainer(config).train(inputs, out, _ctx(tmp_path, "tt", None))
    assert (out / "model.safetensors").is_file() and (out / "rankfw_training.json").is_file()

    # An untrained head on the same encoder is the "before" model.
    before_dir = tmp_path / "before"
    from rankfw_crossencoder_nmt.training.loop import load_for_training

    model, tokenizer = load_for_training(str(tiny_encoder), seed=13)
    model.save_pretrained(before_dir)
    tokenizer.save_pretrained(before_dir)
    before, after = _score(before_dir, dev, tmp_path), _score(out, dev, tmp_path)
    print(f"nDCG@10 before {before:.3f} after {after:.3f}")
    assert after > before + 0.1

    scores = CrossEncoder(str(out), device="cpu").predict([("Who won?", "The Broncos won."), ("a", "b")])
    assert len(scores) == 2
