"""Fixtures of the crossencoder_nmt tests: tiny models built from the shipped XQuAD-R data."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread per test: tiny models gain nothing from more, and the CI machine is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
