"""Parameters shared by the components that encode text (light: no torch here)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field, model_validator

from rankfw.core import ComponentConfig, StageContext
from rankfw.models import ModelRef

DEFAULT_MODEL = "bundled:multilingual-e5-small"


class EncoderConfig(ComponentConfig):
    """How texts become vectors: the model and how it is run."""

    model: ModelRef = Field(DEFAULT_MODEL, description="hub id, local folder, bundled:NAME or stage:NAME")
    pooling: Literal["auto", "mean", "cls"] = Field(
        "auto", description="token pooling; auto = the model folder's own (mean when it has none)"
    )
    normalise: bool = Field(True, description="L2-normalise embeddings (scores are then cosines)")
    query_prefix: str | None = Field(None, description="text put before queries; None = the model's 'query' prompt")
    passage_prefix: str | None = Field(
        None, description="text put before passages; None = the model's 'passage'/'document' prompt"
    )
    max_length: int = Field(512, gt=0, le=8192, description="tokens per text (longer texts are truncated)")
    batch_size: int = Field(32, gt=0, description="texts per forward pass")
    device: str = Field("auto", description="auto (cuda if present), cpu, cuda, cuda:1, mps")
    cache_embeddings: bool = Field(True, description="keep embeddings on disk, keyed by model and text hash")
    backend: Literal["torch", "onnx", "openvino"] = Field(
        "torch", description="torch, onnx (ONNX Runtime on the CPU; the model exported once into the cache) or "
        "openvino (the same export in OpenVINO)"
    )
    precision: Literal["fp32", "int8", "bf16"] = Field(
        "fp32", description="fp32, int8 (backend onnx / openvino: static int8 linear layers, outlier layers kept "
        "fp32) or bf16 (backend openvino: its bf16 inference on AMX / avx512_bf16 CPUs, else f32)"
    )
    int8_outlier_ratio: float = Field(
        100.0, gt=0, description="int8: a linear layer whose input peaks above this many times its RMS stays fp32"
    )

    @model_validator(mode="after")
    def _onnx_only_options(self) -> EncoderConfig:
        if self.precision == "int8" and self.backend == "torch":
            raise ValueError("precision int8 needs backend onnx or openvino")
        if self.precision == "bf16" and self.backend != "openvino":
            raise ValueError("precision bf16 needs backend openvino")
        if self.backend != "torch" and self.device not in ("auto", "cpu"):
            raise ValueError(f"backend {self.backend} runs on the CPU, not device {self.device!r}")
        return self


def encoder_config_json(config: EncoderConfig) -> str:
    """The encoder's own parameters of ``config`` (a subclass's extra fields left out), as JSON."""
    return EncoderConfig.model_validate(config.model_dump(include=set(EncoderConfig.model_fields))).model_dump_json()


@lru_cache(maxsize=4)
def shared_encoder(config_json: str, cache_dir: str) -> Any:
    """The encoder of ``config_json``, loaded once per process (components and batch workers share it)."""
    from rankfw_biencoder_distill.encoder import Encoder

    return Encoder(EncoderConfig.model_validate_json(config_json), Path(cache_dir))


E = TypeVar("E", bound=EncoderConfig)


class EncoderUser(Generic[E]):
    """Mixin of the components that encode text: the encoder is loaded once per process."""

    config: E

    def encoder(self, ctx: StageContext) -> Any:
        """The loaded encoder."""
        return shared_encoder(encoder_config_json(self.config), str(ctx.cache_dir))
