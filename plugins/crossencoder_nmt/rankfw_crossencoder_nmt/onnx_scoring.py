"""The cross-encoder on ONNX Runtime or OpenVINO: exported once per model digest, fp32, static int8 (outliers
kept fp32) or (OpenVINO) bf16."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankfw_crossencoder_nmt.scoring import CALIBRATION_PAIRS, PairScorer, usable_length

if TYPE_CHECKING:
    import numpy as np

    from rankfw.models.onnx_runtime import OnnxPrecision


def logits_module(model: Any) -> Any:
    """``model`` as a module with named inputs returning one score per pair, for torch.onnx."""
    import torch

    class Scores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits.float()
            return logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]

    return Scores().eval()


class OnnxPairScorer(PairScorer):
    """:class:`PairScorer` whose batches run in an ONNX Runtime session, or an OpenVINO model with
    ``backend="openvino"`` (same tokenization and length-sorted batches, scores as the torch model's)."""

    def __init__(self, path: Path, tokenizer: Any, config: Any, max_length: int, batch_size: int,
                 threads: int | None = None, backend: str = "onnx", precision: str = "fp32") -> None:
        from rankfw.models.onnx_runtime import session

        self.path = path
        self.session = session(path, threads, backend=backend, precision=precision)
        self.model = None
        self.tokenizer = tokenizer
        self.max_length = usable_length(max_length, tokenizer, _WithConfig(config))
        self.batch_size = batch_size
        self.inputs = {i.name for i in self.session.get_inputs()}

    @property
    def device(self) -> Any:
        return "cpu"

    def feed(self, features: dict[str, list[list[int]]]) -> dict[str, np.ndarray]:
        """The session's inputs for one batch of token rows, padded to its longest pair."""
        from rankfw.models.onnx_runtime import pad_batch

        batch = pad_batch(features, self.tokenizer.pad_token_id or 0)
        return {k: v for k, v in batch.items() if k in self.inputs}

    def forward(self, features: dict[str, list[list[int]]]) -> np.ndarray:
        """The scores of one batch, padded to its longest pair, from the ONNX session."""
        return self.session.run(None, self.feed(features))[0]

    def scored_batches(self, batches: Iterable[tuple[list[int], dict[str, list[list[int]]]]]) -> Iterator[tuple[list[int], np.ndarray]]:
        """``(indices, scores)`` of each batch, on every stream of an OpenVINO session (as they finish)."""
        from rankfw.models.onnx_runtime import run_batches

        return run_batches(self.session, ((idx, self.feed(features)) for idx, features in batches))


CALIBRATION_BATCH = 8
"""Pairs per calibration feed (each feed's activations are held in memory while it calibrates)."""


class _WithConfig:
    def __init__(self, config: Any) -> None:
        self.config = config


def load_onnx_scorer(
    path: str,
    cache_dir: Path,
    precision: OnnxPrecision = "fp32",
    calibration: Sequence[tuple[str, str]] | None = None,
    outlier_ratio: float = 100.0,
    max_length: int = 256,
    batch_size: int = 32,
    threads: int | None = None,
    backend: str = "onnx",
) -> OnnxPairScorer:
    """An :class:`OnnxPairScorer` of the model at ``path`` (exported into ``cache_dir/onnx`` once).

    ``int8``: the transformer stack's linear layers in static int8, except those whose input has
    outlier channels on ``calibration`` pairs (as the torch int8 path); the activation scales are
    calibrated on the scorer's own batches of those pairs, so a pair's score does not depend on the
    pairs it is batched with.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from rankfw.models import SAFE_LOADING, model_identity
    from rankfw.models.onnx_runtime import export_onnx, input_outliers, linear_nodes, quantize_int8

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, **SAFE_LOADING).eval()
    pairs = list(calibration or CALIBRATION_PAIRS)
    length = min(max_length, usable_length(512, tokenizer, model))
    sample = tokenizer([q for q, _ in pairs], [p for _, p in pairs], truncation="only_second", padding=True,
                       max_length=length, return_tensors="pt")
    example = {k: sample[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample}
    wrapper = logits_module(model)
    onnx_path = export_onnx(wrapper, example, "scores", cache_dir / "onnx", "crossencoder\n" + model_identity(path, cache_dir))
    if precision != "int8":
        return OnnxPairScorer(onnx_path, tokenizer, model.config, max_length, batch_size, threads, backend, precision)
    stack = model.base_model.encoder
    skipped = input_outliers(stack, partial(wrapper, **example), outlier_ratio)
    nodes = [node for name, node in linear_nodes(onnx_path, stack).items() if name not in skipped]
    config = model.config
    small = OnnxPairScorer(onnx_path, tokenizer, config, max_length, CALIBRATION_BATCH, threads)
    feeds = [small.feed(features) for _, features in small.batches([q for q, _ in pairs], [p for _, p in pairs])]
    del small, model, wrapper, stack, example, sample  # free the torch model and the fp32 session before calibrating
    gc.collect()
    int8 = quantize_int8(onnx_path, nodes, feeds, "qdq")
    return OnnxPairScorer(int8, tokenizer, config, max_length, batch_size, threads, backend, precision)
