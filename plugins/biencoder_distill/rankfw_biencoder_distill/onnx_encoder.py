"""A sentence-transformers encoder on ONNX Runtime or OpenVINO: the whole module stack (transformer,
pooling, dense, normalize) exported once per model digest, fp32 or static int8 (calibrated on
:data:`CALIBRATION_TEXTS`, outlier layers kept fp32), or (OpenVINO) bf16."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_TEXTS: tuple[str, ...] = (
    "who won the super bowl?",
    "The Denver Broncos defeated the Carolina Panthers 24-10 to earn their third Super Bowl title.",
    "wann wurde die Universität gegründet?",
    "Die Universität wurde 1890 von John D. Rockefeller gegründet und liegt in Chicago.",
    "¿cuál es la capital de Francia? París es la capital y la ciudad más poblada de Francia.",
    "北京是中华人民共和国的首都，也是全国的政治中心。",
    "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها.",
    "Нил считается самой длинной рекой в мире, его длина около 6650 километров.",
    "नील नदी दुनिया की सबसे लंबी नदी मानी जाती है।",
    "Sông Nin được coi là con sông dài nhất thế giới.",
)
"""Texts the int8 calibration looks at (a few scripts and lengths; prefixes are added)."""


def embedding_module(model: Any) -> Any:
    """``model`` (a SentenceTransformer) as a module with named inputs returning its sentence embeddings."""
    import torch

    class Embeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            return self.model(features)["sentence_embedding"].float()

    return Embeddings().eval()


class OnnxTextEncoder:
    """Texts -> vectors with an exported SentenceTransformer (an ONNX Runtime session, or OpenVINO with
    ``backend="openvino"``): tokenized once, length-sorted batches padded to their own longest text,
    L2-normalised here when asked."""

    def __init__(self, model: Any, digest: str, cache_dir: Path, precision: str = "fp32",
                 outlier_ratio: float = 100.0, threads: int | None = None,
                 calibration: Sequence[str] = CALIBRATION_TEXTS, backend: str = "onnx") -> None:
        from rankfw.models.onnx_runtime import (
            export_onnx,
            input_outliers,
            linear_nodes,
            quantize_int8,
            session,
        )

        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_seq_length)
        wrapper = embedding_module(model)
        import torch

        tensors = {k: torch.from_numpy(v) for k, v in self._pad(self._tokenize(list(calibration))).items()}
        self.path = export_onnx(wrapper, tensors, "embeddings", cache_dir / "onnx", "biencoder\n" + digest)
        if precision == "int8":
            stack = model.transformers_model.encoder
            skipped = input_outliers(stack, lambda: wrapper(**tensors), outlier_ratio)
            nodes = [node for name, node in linear_nodes(self.path, stack).items() if name not in skipped]
            self.path = quantize_int8(self.path, nodes, self.feeds(list(calibration), 8), "qdq")  # static: batch-independent
        self.session = session(self.path, threads, backend=backend, precision=precision)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _tokenize(self, texts: list[str]) -> dict[str, list[list[int]]]:
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=False,
                                 return_attention_mask=False)
        return {k: list(v) for k, v in encoded.items() if k in ("input_ids", "token_type_ids")}

    def _pad(self, rows: dict[str, list[list[int]]]) -> dict[str, np.ndarray]:
        from rankfw.models.onnx_runtime import pad_batch

        return pad_batch(rows, self.tokenizer.pad_token_id or 0)

    def feeds(self, texts: list[str], batch_size: int = 32) -> list[dict[str, np.ndarray]]:
        """The padded input batches :meth:`encode` runs for ``texts`` (the int8 calibration's feeds)."""
        from rankfw.models.onnx_runtime import length_batches

        rows = self._tokenize(texts)
        return [self._pad({k: [v[i] for i in idx] for k, v in rows.items()})
                for idx in length_batches([len(x) for x in rows["input_ids"]], batch_size)]

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalise: bool = True) -> np.ndarray:
        """One float32 row per text."""
        from rankfw.models.onnx_runtime import length_batches, run_batches

        rows = self._tokenize(list(texts))
        ids = rows["input_ids"]
        out: np.ndarray | None = None

        def feeds() -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
            for idx in length_batches([len(x) for x in ids], batch_size):
                batch = self._pad({k: [v[i] for i in idx] for k, v in rows.items()})
                yield idx, {k: v for k, v in batch.items() if k in self.inputs}

        for idx, vectors in run_batches(self.session, feeds()):
            if out is None:
                out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        if out is None:
            return np.zeros((0, 0), dtype=np.float32)
        if normalise:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

