"""Fixtures of the crossencoder_nmt tests: tiny models built from the shipped XQuAD-R data."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankfw.core import Run
from rankfw.core.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()


def shipped_texts(lang: str = "en") -> list[str]:
    """Every sentence and question of one language's shipped corpus and training file."""
    texts = [json.loads(line)["text"] for line in (XQUAD / lang / "corpus.jsonl").open(encoding="utf-8")]
    with gzip.open(XQUAD / lang / "train.jsonl.gz", "rt", encoding="utf-8") as f:
        texts += [json.loads(line)["query"] for line in f]
    return texts


@pytest.fixture(scope="session")
def xquad() -> Path:
    """The shipped XQuAD-R collections (``<repo>/../shared/data/xquad``)."""
    if not XQUAD.is_dir():
        pytest.skip(f"shared data not found at {XQUAD}")
    return XQUAD


@pytest.fixture(scope="session")
def tiny_encoder(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (random weights) with a WordPiece vocabulary trained on the English data."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-encoder")
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(shipped_texts("en"), vocab_size=3000, min_frequency=1)
    tokenizer = BertTokenizerFast(tokenizer_object=wp._tokenizer, model_max_length=128)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=160,
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_cross_encoder(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny encoder with a fresh 1-logit head, saved as a cross-encoder folder."""
    from rankfw_crossencoder_nmt.training.loop import load_for_training

    folder = tmp_path_factory.mktemp("tiny-ce")
    model, tokenizer = load_for_training(str(tiny_encoder), seed=1)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def setup(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], JsonlCorpus, Run]:
    """12 dev questions, each with 30 candidate sentences (a fixed, arbitrary slice of the corpus)."""
    corpus = JsonlCorpus(xquad / "en" / "corpus.jsonl", tmp_path_factory.mktemp("cache"))
    topics = dict(list(read_topics(xquad / "en" / "topics.dev.tsv").items())[:12])
    docids = [d.docid for d in corpus]
    run = Run.from_ranked({q: [(docids[(7 * i + j) % len(docids)], 100.0 - j) for j in range(30)] for i, q in enumerate(topics)})
    return topics, corpus, run


@pytest.fixture(scope="session")
def outlier_cross_encoder(tiny_cross_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny cross-encoder with one huge channel feeding layer 0's feed-forward output projection
    (the activation outliers of real BERT-style models, made by hand). The largest ratio a single
    channel can reach is about sqrt(2 x 128 channels) = 16, so the tests use a ratio of 10."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_cross_encoder)
    with torch.no_grad():
        inner = model.base_model.encoder.layer[0].intermediate.dense
        inner.weight[3] *= 300.0  # GELU keeps the tokens where it is positive: one huge channel
        inner.bias[3] = 0.0
        model.base_model.encoder.layer[0].output.dense.weight[:, 3] /= 300.0  # the model's output barely moves
    folder = tmp_path_factory.mktemp("outlier-ce")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_cross_encoder).save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread per test: tiny models gain nothing from more, and the CI machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
