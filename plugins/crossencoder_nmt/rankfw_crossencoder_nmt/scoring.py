"""Cross-encoder inference: length-sorted dynamic batches at fp32, bf16 or dynamic int8."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Precision = Literal["fp32", "bf16", "int8"]


def load_cross_encoder(path: str, device: str = "cpu", precision: Precision = "fp32") -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a HF folder or hub id, in eval mode at ``precision``.

    ``bf16`` casts the weights; ``int8`` quantizes the ``nn.Linear`` layers of the transformer stack
    dynamically with per-output-channel scales (CPU only); the pooler and the head stay fp32.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rankfw.models import SAFE_LOADING

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, **SAFE_LOADING)
    model.eval()
    if precision == "bf16":
        model = model.to(dtype=torch.bfloat16)
    elif precision == "int8":
        if device != "cpu":
            raise ValueError("precision int8 (dynamic quantization) runs on the CPU only")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            stack = getattr(model.base_model, "encoder", model.base_model)
            quantize_dynamic(stack, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    return model.to(device), tokenizer


def usable_length(requested: int, tokenizer: Any, model: Any) -> int:
    """``requested`` capped at what the tokenizer and the position embeddings allow."""
    limits = [requested]
    if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions:
        offset = 2 if getattr(model.config, "model_type", "") in ("xlm-roberta", "roberta", "camembert") else 0
        limits.append(int(positions) - offset)
    return min(limits)


class PairScorer:
    """Scores (query, passage) pairs with a sequence-classification model.

    Pairs are tokenized once (passage side truncated to ``max_length``), sorted by length and
    cut into batches padded only to their own longest pair, under ``torch.inference_mode``.
    The score is the single logit (or logit 1 minus logit 0 for a two-label model).
    """

    def __init__(self, model: Any, tokenizer: Any, max_length: int = 256, batch_size: int = 32) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = usable_length(max_length, tokenizer, model)
        self.batch_size = batch_size

    @property
    def device(self) -> Any:
        return next(iter(self.model.parameters())).device

    def score(self, queries: Sequence[str], passages: Sequence[str], progress: Any = None) -> np.ndarray:
        """Scores of ``zip(queries, passages)`` in input order; ``progress.advance(n)`` per batch."""
        import numpy as np
        import torch

        if len(queries) != len(passages):
            raise ValueError("queries and passages differ in length")
        if not queries:
            return np.zeros(0, dtype=np.float32)
        encoded = self.tokenizer(
            list(queries), list(passages), truncation="only_second", max_length=self.max_length,
            padding=False, return_attention_mask=False,
        )
        ids = encoded["input_ids"]
        types = encoded.get("token_type_ids")
        order = np.argsort([-len(x) for x in ids], kind="stable")
        out = np.empty(len(ids), dtype=np.float32)
        device = self.device
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                features: dict[str, list[list[int]]] = {"input_ids": [ids[i] for i in idx]}
                if types is not None:
                    features["token_type_ids"] = [types[i] for i in idx]
                batch = self.tokenizer.pad(features, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items()}
                logits = self.model(**batch).logits.float()
                values = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]
                out[idx] = values.cpu().numpy()
                if progress is not None:
                    progress.advance(len(idx))
        return out

