"""Tiny models for tests: one tiny BERT (random weights, a WordPiece vocabulary trained on shipped
XQuAD-R text), as a HF folder, a sentence-transformers bi-encoder or a 1-logit cross-encoder.

Building one takes a few seconds on a CPU and downloads nothing. Importing this module loads
nothing heavy (torch and transformers are imported by the builders).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from rankfw.testing import xquad_data


def xquad_texts(languages: Sequence[str] = ("en", "de"), root: Path | None = None, queries: str = "topics") -> list[str]:
    """Shipped text of ``languages``: every corpus passage, then the dev topics (``queries="topics"``)
    or the training questions (``queries="train"``)."""
    root = root or xquad_data()
    texts: list[str] = []
    for lang in languages:
        with open(root / lang / "corpus.jsonl", encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f)
        if queries == "topics":
            with open(root / lang / "topics.dev.tsv", encoding="utf-8") as f:
                texts.extend(line.split("\t", 1)[1] for line in f)
        else:
            with gzip.open(root / lang / "train.jsonl.gz", "rt", encoding="utf-8") as f:
                texts.extend(json.loads(line)["query"] for line in f)
    return texts


def tiny_bert(
    folder: Path, texts: Iterable[str] | None = None, seed: int = 0, min_frequency: int = 2, max_positions: int = 128,
    vocab_size: int = 3000,
) -> Path:
    """A 2-layer, 64-dim ``BertModel`` and its WordPiece tokenizer (trained on ``texts``, default
    the English and German XQuAD-R text), saved into ``folder`` (created); returns ``folder``."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = wordpiece_vocab(xquad_texts() if texts is None else texts, vocab_size, min_frequency)
    wordpiece = BertWordPieceTokenizer(vocab, lowercase=True)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, model_max_length=128)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def wordpiece_vocab(texts: Iterable[str], vocab_size: int = 3000, min_frequency: int = 2) -> dict[str, int]:
    """A WordPiece vocabulary that is the same in every process: BERT's special tokens, every
    character (alone and as ``##`` continuation), then the most frequent words (ties by spelling)
    up to ``vocab_size``. (The tokenizers trainer breaks ties in hash order, which differs from one
    process to the next, so tiny models trained on its vocabularies scored differently per run.)"""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer, pre = BertNormalizer(lowercase=True), BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    words = [w for w, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if n >= min_frequency and len(w) > 1]
    tokens += words[: max(vocab_size - len(tokens), 0)]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def tiny_sentence_transformer(folder: Path, seed: int = 0) -> Path:
    """A tiny bi-encoder: :func:`tiny_bert` in ``folder/hf`` wrapped as a sentence-transformers folder
    ``folder/st`` (Transformer -> mean Pooling -> Normalize); returns ``folder/st``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    hf = tiny_bert(folder / "hf", seed=seed)
    transformer = Transformer(str(hf), max_seq_length=128)
    model = SentenceTransformer(modules=[transformer, Pooling(64, pooling_mode="mean"), Normalize()], device="cpu")
    out = folder / "st"
    model.save(str(out))
    return out


def tiny_cross_encoder(folder: Path, bert: Path | None = None, seed: int = 1) -> Path:
    """A tiny cross-encoder (``BertForSequenceClassification``, one logit, random head) with the
    tokenizer of ``bert`` (a :func:`tiny_bert` folder, built in ``folder/bert`` when not given)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    bert = bert or tiny_bert(folder / "bert")
    torch.manual_seed(seed)
    config = BertConfig.from_pretrained(bert, num_labels=1)
    out = folder / "ce"
    BertForSequenceClassification(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(bert).save_pretrained(out)
    return out
