"""Training helpers shared by the model plugins: the trainer base config, layer freezing."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rankfw.core.components import ComponentConfig
from rankfw.core.errors import InputError
from rankfw.models.refs import ModelRef


class TrainerConfig(ComponentConfig):
    """The parameters every model trainer shares (optimisation, freezing, device); a plugin's
    Config subclasses it, adds its own and may redeclare a field to change its default."""

    model: ModelRef = Field(description="the model to start from: hub id, folder, bundled:NAME or stage:NAME")
    epochs: int = Field(1, ge=1, description="passes over the training data")
    lr: float = Field(5e-5, gt=0, description="peak learning rate (AdamW)")
    batch_size: int = Field(32, ge=1, description="items per optimiser step")
    warmup: float = Field(0.1, ge=0, le=1, description="fraction of the steps with a linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    seed: int = Field(42, description="random seed (shuffling, sampling, dropout, head init)")
    max_length: int = Field(128, gt=8, le=8192, description="tokens per text (or text pair) while training")
    freeze_embeddings: bool = Field(False, description="keep the word embeddings fixed (faster, less forgetting)")
    freeze_layers: int = Field(0, ge=0, description="keep the bottom N transformer layers fixed (faster, less forgetting)")
    bf16: bool = Field(False, description="bfloat16 autocast (fast on GPUs and CPUs with AMX / AVX512-BF16)")
    device: str = Field("auto", description="auto (cuda if present), cpu, cuda, cuda:N, mps")


def freeze_bottom_layers(model: Any, layers: int) -> None:
    """Stop the gradients of the bottom ``layers`` transformer layers of a HF encoder model."""
    stack = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if stack is None:
        raise InputError(f"cannot find the layer stack of a {type(model.base_model).__name__}", "freeze_layers")
    if layers > len(stack):
        raise InputError(f"the model has only {len(stack)} layers, got {layers}", "freeze_layers")
    for layer in stack[:layers]:
        layer.requires_grad_(False)
