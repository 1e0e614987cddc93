"""OpenVINO inference of the exported ONNX models (``backend: openvino``): the same ``model.onnx``
(fp32, or the static-int8 QDQ model, which OpenVINO's CPU plugin runs on its int8 VNNI/AMX kernels)
compiled for the CPU, with an ONNX Runtime-like ``run`` so the rerankers batch exactly as on ONNX
Runtime. Light at import: openvino is imported when a model is compiled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = ["OpenVinoSession", "cpu_has_bf16", "inference_precision"]

log = logging.getLogger(__name__)


class _Input(NamedTuple):
    name: str


def _core() -> Any:
    try:
        import openvino as ov
    except ImportError as error:  # a one-line error where the extra is missing
        raise RuntimeError("backend openvino needs the openvino package: pip install 'rankfw[onnx]'") from error
    return ov.Core()


def cpu_has_bf16(core: Any = None) -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively here (AMX or avx512_bf16)."""
    core = core or _core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def inference_precision(precision: str, core: Any = None) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for rankfw's ``precision``.

    ``fp32``: f32 everywhere. ``bf16``: bf16 where the CPU has it, else f32 (logged). ``int8``: the
    QDQ model's int8 layers run in int8 whatever the hint, the rest (the outlier layers kept out of
    int8, attention, norms) in bf16 where the CPU has it (bf16 keeps fp32's range, so the outlier
    channels that int8 would clip survive; measured here on e5-small's cross-encoder pairs: 1.37 s
    for 200 pairs against 2.03 s with the rest in f32 and 2.63 s at bf16 alone), else f32 (silently:
    int8 needs no bf16).
    """
    if precision in ("bf16", "int8"):
        if cpu_has_bf16(core):
            return "bf16"
        if precision == "bf16":
            log.warning("precision bf16: this CPU has no bf16 (AMX / avx512_bf16); OpenVINO runs f32")
    return "f32"


class OpenVinoSession:
    """``path`` (an ONNX model) compiled by OpenVINO for the CPU at ``precision``, on ``threads`` threads.

    One stream, latency mode: the rerankers send one length-sorted batch at a time (dynamic batch and
    sequence axes). ``run(None, feeds)`` returns the outputs as a list of arrays, as ONNX Runtime's;
    calls from several threads take turns on the one infer request.
    """

    def __init__(self, path: Path, threads: int | None = None, precision: str = "fp32") -> None:
        core = _core()
        config = {
            "INFERENCE_PRECISION_HINT": inference_precision(precision, core),
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": "1",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        self.compiled = core.compile_model(str(path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self._lock = threading.Lock()
        self.precision = config["INFERENCE_PRECISION_HINT"]

    def get_inputs(self) -> list[_Input]:
        """The model's inputs (``.name`` each), as ONNX Runtime's ``get_inputs``."""
        return [_Input(port.get_any_name()) for port in self.compiled.inputs]

    def run(self, _outputs: Any, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output of one inference on ``feeds`` (copied: the request's buffers are reused)."""
        with self._lock:
            self.request.infer(dict(feeds))
            return [self.request.get_output_tensor(i).data.copy() for i in range(len(self.compiled.outputs))]
