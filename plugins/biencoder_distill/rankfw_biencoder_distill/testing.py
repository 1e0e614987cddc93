"""Test helpers: tiny models trained on shipped text, XQuAD loading, a silent context, nDCG@10.

Used by this plugin's tests and benchmarks; importing it loads nothing heavy.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankfw.core import JsonlCorpus, StageContext, read_qrels, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()
"""The shared XQuAD-R data beside the repository (``<repo>/../shared/data/xquad``)."""


def tiny_texts(languages: tuple[str, ...] = ("en", "de"), root: Path = XQUAD) -> list[str]:
    """Shipped text to train the tiny tokenizer on: corpora and training questions."""
    texts: list[str] = []
    for lang in languages:
        with open(root / lang / "corpus.jsonl", encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f)
        with open(root / lang / "topics.dev.tsv", encoding="utf-8") as f:
            texts.extend(line.split("\t", 1)[1] for line in f)
    return texts


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 64-dim BERT with a WordPiece tokenizer trained on XQuAD text (en+de), saved as a
    sentence-transformers folder (Transformer -> mean Pooling -> Normalize)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    hf = folder / "hf"
    hf.mkdir(parents=True)
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(tiny_texts(), vocab_size=3000, min_frequency=2)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=128)
    tokenizer.save_pretrained(hf)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config).save_pretrained(hf)
    transformer = Transformer(str(hf), max_seq_length=128)
    model = SentenceTransformer(modules=[transformer, Pooling(64, pooling_mode="mean"), Normalize()], device="cpu")
    out = folder / "st"
    model.save(str(out))
    return out


def xquad(lang: str, cache: Path, root: Path = XQUAD) -> tuple[JsonlCorpus, dict[str, str], dict[str, dict[str, int]]]:
    """One language's corpus, dev topics and dev qrels."""
    root = root / lang
    return JsonlCorpus(root / "corpus.jsonl", cache), read_topics(root / "topics.dev.tsv"), read_qrels(root / "qrels.dev.txt")


def context(tmp: Path, language: str | None = "en", stage: str = "test") -> StageContext:
    """A silent StageContext with its folders under ``tmp``."""
    (tmp / "work").mkdir(parents=True, exist_ok=True)
    return StageContext(stage=stage, language=language, work_dir=tmp / "work", cache_dir=tmp / "cache")


def ndcg10(run: object, qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 of a Run (every query of ``qrels`` counted)."""
    import ir_measures

    return float(ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run.scores())[ir_measures.nDCG @ 10])  # type: ignore[attr-defined]
