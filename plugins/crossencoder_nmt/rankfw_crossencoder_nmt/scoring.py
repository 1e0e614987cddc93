"""Cross-encoder inference: length-sorted dynamic batches at fp32, bf16 or dynamic int8."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

Precision = Literal["fp32", "bf16", "int8"]


# Pairs the int8 calibration runs on when the caller gives none (a few scripts and lengths).
CALIBRATION_PAIRS: tuple[tuple[str, str], ...] = (
    ("who won the super bowl?", "The Denver Broncos defeated the Carolina Panthers 24-10 to earn their third Super Bowl title."),
    ("wann wurde die Universität gegründet?", "Die Universität wurde 1890 von John D. Rockefeller gegründet."),
    ("¿cuál es la capital de Francia?", "París es la capital y la ciudad más poblada de Francia."),
    ("中国的首都是哪里？", "北京是中华人民共和国的首都，也是全国的政治中心。"),
    ("ما هي عاصمة مصر؟", "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها."),
    ("Какая самая длинная река?", "Нил считается самой длинной рекой в мире."),
)


CALIBRATION_SIZE = 32
"""Corpus pairs :func:`calibration_pairs` adds to :data:`CALIBRATION_PAIRS`."""


def calibration_pairs(corpus: Any, n: int = CALIBRATION_SIZE, scan: int = 4096) -> list[tuple[str, str]]:
    """The int8 calibration pairs of a corpus: :data:`CALIBRATION_PAIRS` and ``n`` passages spread
    evenly over its first ``scan`` documents, each with its own leading words (up to 16) as the
    query, the pseudo-queries of the inverse cloze task (Lee et al. 2019).

    They depend on the corpus only (not on the queries asked), so the batch run and a one-query
    search calibrate alike; the quantized model is cached under their digest.
    """
    from itertools import islice

    docs = list(islice(iter(corpus), scan))
    step = max(1, len(docs) // n) if docs else 1
    chosen = docs[::step][:n]
    return list(CALIBRATION_PAIRS) + [(" ".join(d.text.split()[:16]), d.contents) for d in chosen if d.text.strip()]


def load_cross_encoder(
    path: str,
    device: str = "cpu",
    precision: Precision = "fp32",
    calibration: Sequence[tuple[str, str]] | None = None,
    outlier_ratio: float = 100.0,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` from a HF folder or hub id, in eval mode at ``precision``.

    ``bf16`` casts the weights. ``int8`` quantizes the ``nn.Linear`` layers of the transformer stack
    dynamically with per-output-channel scales (CPU only), except the layers whose input has outlier
    channels (see :func:`outlier_linears`, measured on ``calibration`` pairs); the pooler and the head
    stay fp32.
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
        stack = _transformer_stack(model)
        skipped = outlier_linears(model, tokenizer, calibration or CALIBRATION_PAIRS, outlier_ratio)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            qconfig = {
                name: per_channel_dynamic_qconfig
                for name, module in stack.named_modules()
                if isinstance(module, torch.nn.Linear) and f"{_STACK}.{name}" not in skipped
            }
            quantize_dynamic(stack, qconfig, dtype=torch.qint8, inplace=True)  # type: ignore[arg-type]
    return model.to(device), tokenizer


_STACK = "stack"


def _transformer_stack(model: Any) -> Any:
    """The model's layer stack (``base_model.encoder`` in BERT-style models): what int8 quantizes."""
    return getattr(model.base_model, "encoder", model.base_model)


def outlier_linears(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], ratio: float) -> set[str]:
    """Names (``stack.<module path>``) of the transformer stack's ``nn.Linear`` layers whose input, over
    ``pairs``, has a value larger than ``ratio`` times the input's root mean square.

    Dynamic int8 uses one scale for a layer's whole input, so a few huge channels (in BERT-style models
    typically the input of some feed-forward output projections) leave the other channels a handful
    of levels: those layers stay fp32 (Dettmers et al. 2022, LLM.int8(), make the same cut).
    """
    from rankfw.models.onnx_runtime import input_outliers

    batch = tokenizer([q for q, _ in pairs], [p for _, p in pairs], truncation="only_second", padding=True,
                      max_length=min(256, usable_length(512, tokenizer, model)), return_tensors="pt")
    batch = batch.to(next(iter(model.parameters())).device)
    return input_outliers(_transformer_stack(model), lambda: model(**batch), ratio, prefix=f"{_STACK}.")


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
    cut into batches padded only to their own longest pair, under ``torch.inference_mode``
    (:meth:`forward`; the ONNX Runtime scorer overrides it).
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

        if len(queries) != len(passages):
            raise ValueError("queries and passages differ in length")
        if not queries:
            return np.zeros(0, dtype=np.float32)
        out = np.empty(len(queries), dtype=np.float32)
        for idx, scores in self.scored_batches(self.batches(queries, passages)):
            out[idx] = scores
            if progress is not None:
                progress.advance(len(idx))
        return out

    def scored_batches(self, batches: Iterable[tuple[list[int], dict[str, list[list[int]]]]]) -> Iterator[tuple[list[int], np.ndarray]]:
        """``(indices, scores)`` of each of :meth:`batches`' batches (:meth:`forward` one by one)."""
        for idx, features in batches:
            yield idx, self.forward(features)

    def batches(self, queries: Sequence[str], passages: Sequence[str]) -> list[tuple[list[int], dict[str, list[list[int]]]]]:
        """``(indices, token rows)`` of the length-sorted batches :meth:`score` runs (unpadded rows)."""
        from rankfw.models.onnx_runtime import length_batches

        encoded = self.tokenizer(
            list(queries), list(passages), truncation="only_second", max_length=self.max_length,
            padding=False, return_attention_mask=False,
        )
        ids = encoded["input_ids"]
        types = encoded.get("token_type_ids")
        out = []
        for idx in length_batches([len(x) for x in ids], self.batch_size):
            features: dict[str, list[list[int]]] = {"input_ids": [ids[i] for i in idx]}
            if types is not None:
                features["token_type_ids"] = [types[i] for i in idx]
            out.append((idx, features))
        return out

    def forward(self, features: dict[str, list[list[int]]]) -> np.ndarray:
        """The scores of one batch of tokenized pairs (padded here to the batch's longest)."""
        import torch

        batch = self.tokenizer.pad(features, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits.float()
        values = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]
        return values.cpu().numpy()
