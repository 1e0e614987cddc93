"""Fixtures of the crossencoder_nmt tests: tiny models built from the shipped XQuAD-R data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rankfw.core import Run
from rankfw.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()


@pytest.fixture(scope="session")
def xquad() -> Path:
    """The shipped XQuAD-R collections (``<repo>/../shared/data/xquad``)."""
    if not XQUAD.is_dir():
        pytest.skip(f"shared data not found at {XQUAD}")
    return XQUAD


@pytest.fixture(scope="session")
def tiny_encoder(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (random weights) with a WordPiece vocabulary trained on the English data."""
    from rankfw.testing.tiny_models import tiny_bert, xquad_texts

    folder = tmp_path_factory.mktemp("tiny-encoder")
    return tiny_bert(folder, xquad_texts(["en"], xquad, queries="train"), seed=0, min_frequency=1, max_positions=160)


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
