"""Loading a sentence-transformers encoder and encoding distinct texts once, with a disk cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rankfw.core import text_digest
from rankfw.models import SAFE_LOADING, model_identity, pick_device, resolve_model
from rankfw_biencoder_distill.cache import EmbeddingCache
from rankfw_biencoder_distill.params import EncoderConfig

CHUNK = 2048
"""Texts per progress step (and per cache write)."""


def load_sentence_transformer(ref: str, pooling: str, max_length: int, device: str, cache_dir: Path | None) -> Any:
    """A ``SentenceTransformer`` for a model reference, with the pooling and length asked for."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    path = resolve_model(ref, cache_dir)
    model = SentenceTransformer(path, device=pick_device(device), model_kwargs=dict(SAFE_LOADING))
    if pooling != "auto":
        for index, module in enumerate(model):
            if isinstance(module, Pooling):
                model[index] = Pooling(embedding_dimension(model), pooling_mode=pooling)
    model.max_seq_length = min(max_length, model_max_tokens(model))
    return model


def embedding_dimension(model: Any) -> int:
    """The model's embedding size (``get_embedding_dimension`` in sentence-transformers >= 6)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def model_max_tokens(model: Any) -> int:
    """The longest input the model takes (its position table; the tokenizer's limit if smaller)."""
    limit = getattr(model.transformers_model.config, "max_position_embeddings", None) or 1_000_000
    tokenizer_limit = getattr(model.tokenizer, "model_max_length", None) or 1_000_000
    return int(min(limit, tokenizer_limit if tokenizer_limit < 1_000_000 else limit))


def prompt_of(model: Any, names: Sequence[str]) -> str:
    """The first of the model's prompts named ``names`` ("" when it has none)."""
    prompts = getattr(model, "prompts", None) or {}
    return next((prompts[n] for n in names if n in prompts), "")


class Encoder:
    """Encodes texts with one model; every distinct text once, length-sorted, cached on disk."""

    def __init__(self, config: EncoderConfig, cache_dir: Path) -> None:
        self.config = config
        exported = config.backend != "torch"
        device = "cpu" if exported else config.device
        self.model = load_sentence_transformer(config.model, config.pooling, config.max_length, device, cache_dir)
        self.query_prefix = config.query_prefix if config.query_prefix is not None else prompt_of(self.model, ["query"])
        self.passage_prefix = (
            config.passage_prefix
            if config.passage_prefix is not None
            else prompt_of(self.model, ["passage", "document", "doc"])
        )
        self.key = text_digest(
            model_identity(resolve_model(config.model, cache_dir), cache_dir),
            config.pooling,
            str(config.normalise),
            str(config.max_length),
            *([config.backend, config.precision, str(config.int8_outlier_ratio)] if exported else []),
            *(["static"] if exported and config.precision == "int8" else []),
        )
        self.onnx = None
        if exported:
            from rankfw_biencoder_distill.onnx_encoder import OnnxTextEncoder

            graph = text_digest(model_identity(resolve_model(config.model, cache_dir), cache_dir), config.pooling)
            self.onnx = OnnxTextEncoder(self.model, graph, cache_dir, config.precision, config.int8_outlier_ratio,
                                        calibration=self._calibration(), backend=config.backend)
        self.cache = EmbeddingCache(cache_dir, self.key) if config.cache_embeddings else None

    @property
    def dim(self) -> int:
        """Embedding size."""
        return embedding_dimension(self.model)

    def queries(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        """Query vectors (with the query prefix), one row per text."""
        return self.encode([self.query_prefix + t for t in texts], progress)

    def passages(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        """Passage vectors (with the passage prefix), one row per text."""
        return self.encode([self.passage_prefix + t for t in texts], progress)

    def encode(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        """Vectors of ``texts`` (float32, one row each); repeated texts are encoded once.

        ``progress`` (a progress bar) advances by one per distinct text encoded or found in the cache.
        """
        distinct = list(dict.fromkeys(texts))
        vectors: dict[str, np.ndarray] = {}
        hashes = {t: EmbeddingCache.hash(t) for t in distinct} if self.cache is not None else {}
        if self.cache is not None:
            found = self.cache.get_many(list(hashes.values()))
            vectors = {t: found[h] for t, h in hashes.items() if h in found}
            if progress is not None and vectors:
                progress.advance(len(vectors))
        todo = sorted((t for t in distinct if t not in vectors), key=len, reverse=True)
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            encoded = self._forward(chunk)
            if self.cache is not None:
                self.cache.put_many([hashes[t] for t in chunk], encoded)
            vectors.update(zip(chunk, encoded, strict=True))
            if progress is not None:
                progress.advance(len(chunk))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([vectors[t] for t in texts]).astype(np.float32, copy=False)

    def _calibration(self) -> list[str]:
        from rankfw_biencoder_distill.onnx_encoder import CALIBRATION_TEXTS

        return [self.query_prefix + t for t in CALIBRATION_TEXTS] + [self.passage_prefix + t for t in CALIBRATION_TEXTS]

    def _forward(self, texts: list[str]) -> np.ndarray:
        if self.onnx is not None:
            return self.onnx.encode(texts, self.config.batch_size, self.config.normalise)
        import torch

        with torch.inference_mode():
            out = self.model.encode(
                texts,
                batch_size=self.config.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=self.config.normalise,
                show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)
