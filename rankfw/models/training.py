"""Training helpers shared by the model plugins."""

from __future__ import annotations

from typing import Any

from rankfw.core.errors import InputError


def freeze_bottom_layers(model: Any, layers: int) -> None:
    """Stop the gradients of the bottom ``layers`` transformer layers of a HF encoder model."""
    stack = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if stack is None:
        raise InputError(f"cannot find the layer stack of a {type(model.base_model).__name__}", "freeze_layers")
    if layers > len(stack):
        raise InputError(f"the model has only {len(stack)} layers, got {layers}", "freeze_layers")
    for layer in stack[:layers]:
        layer.requires_grad_(False)
