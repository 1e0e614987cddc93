"""ONNX Runtime inference for the model components: export once per model digest, int8, sessions.

A torch module is exported (``torch.onnx``, dynamic batch and sequence axes) into
``<cache>/onnx/<digest>/model.onnx`` once; ``precision: int8`` quantizes it with ONNX Runtime
(per-channel int8 weights; activations static, calibrated on given feeds, or dynamic) restricted
to the ``nn.Linear`` layers of the transformer stack whose inputs have no outlier channels
(:func:`input_outliers`, the scheme of the torch int8 path), into a folder beside it. Light at import: torch,
onnx and onnxruntime are imported when used.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rankfw.core.io import text_digest

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "OPSET",
    "Backend",
    "OnnxPrecision",
    "export_onnx",
    "feeds_digest",
    "input_outliers",
    "length_batches",
    "linear_nodes",
    "pad_batch",
    "quantize_int8",
    "run_batches",
    "session",
]

Backend = Literal["torch", "onnx", "openvino"]
OnnxPrecision = Literal["fp32", "int8", "bf16"]
"""``bf16``: backend openvino only (its CPU plugin's bf16 inference; f32 where the CPU lacks bf16)."""
OPSET = 17


def export_onnx(
    module: Any, example: Mapping[str, Any], output: str, folder: Path, digest: str
) -> Path:
    """``folder/<digest>/model.onnx``: ``module(**example)`` exported (once; reused when cached).

    ``example`` maps input names to int64 tensors of shape (batch, sequence); both axes are dynamic.
    """
    import inspect

    import torch

    from rankfw.models import materialise

    order = list(inspect.signature(module.forward).parameters)
    example = {name: example[name] for name in sorted(example, key=order.index)}  # the exporter names by position

    def build(out: Path) -> None:
        names = list(example)
        axes = {name: {0: "batch", 1: "sequence"} for name in names}
        axes[output] = {0: "batch"}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module.eval(), (), str(out / "model.onnx"), kwargs=dict(example), input_names=names,
                output_names=[output], dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )

    key = text_digest(digest, torch.__version__, str(OPSET), output, ",".join(example))
    return materialise(folder / key[:40], build) / "model.onnx"


def linear_nodes(path: Path, stack: Any, stack_name: str = "encoder") -> dict[str, str]:
    """``name -> MatMul node name`` of the exported ``nn.Linear`` layers of ``stack`` (names relative to it).

    The exporter names a layer's nodes after its module scope, e.g. ``/model/bert/encoder/layer.0/
    output/dense/MatMul`` (outer scopes vary with the wrapping), so a layer is found by the tail
    ``<stack_name>.<its name>``.
    """
    import onnx
    import torch

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    scopes: dict[str, str] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.name.startswith("/") and node.input[1] in weights:
            scopes["." + node.name[1:].rsplit("/", 1)[0].replace("/", ".")] = node.name
    found = {}
    for name, layer in stack.named_modules():
        if isinstance(layer, torch.nn.Linear):
            tail = f".{stack_name}.{name}"
            nodes = [node for scope, node in scopes.items() if scope.endswith(tail)]
            if len(nodes) == 1:
                found[name] = nodes[0]
    return found


def quantize_int8(path: Path, nodes: Sequence[str], calibration: Sequence[Mapping[str, np.ndarray]] | None = None,
                  quant_format: Literal["qdq", "qoperator"] = "qdq") -> Path:
    """``path``'s model with the MatMul ``nodes`` in int8 (per-channel int8 weights), cached beside it;
    ``path`` itself when ``nodes`` is empty (ONNX Runtime would read that as "every node").

    Without ``calibration`` the activations are quantized dynamically (one scale per forward pass,
    so a row's result depends on the rows batched with it). With ``calibration`` (input feeds, e.g.
    the model's own batches) the quantization is static: each quantized input gets a fixed scale
    and zero point (min-max over the feeds, uint8 activations), so a row scores the same in any batch;
    the feeds are part of the cache key. ``qdq`` (the default) puts QuantizeLinear/DequantizeLinear
    pairs on each MatMul's input and int8 weight and keeps its output float (ONNX Runtime fuses
    them into integer MatMuls); ``qoperator`` writes ``QLinearMatMul`` nodes, whose outputs are
    requantized too. Measured here: the same CPU time for e5-small's cross-encoder pairs, and
    nDCG@10 of the e5-small bi-encoder (80 dev questions x en, de, zh) .8847 with qdq, .8706 with
    qoperator, .8784 with dynamic int8, .8769 at fp32.
    """
    from rankfw.models import materialise

    if not nodes:
        return path
    static = calibration is not None
    options: dict[str, Any] = {"MatMulConstBOnly": True}
    if static:  # float MatMul outputs
        options |= {"OpTypesToExcludeOutputQuantization": ["MatMul"]}
    scheme = [feeds_digest(calibration), quant_format, repr(options)] if static else []  # type: ignore[arg-type]
    key = text_digest(*sorted(nodes), *scheme)[:16]
    target = path.parent / (f"int8-static-{key}" if static else f"int8-{key}")

    def build(out: Path) -> None:
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime logs a pre-processing hint on the root logger
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if static:
                    quantize_static(
                        str(path), str(out / "model.onnx"), calibration_reader(calibration or []),
                        quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_quantize=list(nodes), op_types_to_quantize=["MatMul"],
                        extra_options=options, calibration_providers=["CPUExecutionProvider"],
                    )
                else:
                    quantize_dynamic(
                        str(path), str(out / "model.onnx"), per_channel=True, weight_type=QuantType.QInt8,
                        nodes_to_quantize=list(nodes), op_types_to_quantize=["MatMul"], extra_options=options,
                    )
        finally:
            root.setLevel(level)

    return materialise(target, build) / "model.onnx"


def feeds_digest(feeds: Sequence[Mapping[str, np.ndarray]]) -> str:
    """A digest of calibration feeds (names, shapes and values), for cache keys."""
    import hashlib

    h = hashlib.sha256()
    for feed in feeds:
        for name in sorted(feed):
            h.update(f"{name}{feed[name].shape}{feed[name].dtype}".encode())
            h.update(feed[name].tobytes())
    return h.hexdigest()


def calibration_reader(feeds: Sequence[Mapping[str, np.ndarray]]) -> Any:
    """A ``CalibrationDataReader`` over ``feeds`` (ONNX Runtime calls ``get_next`` until None)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter([dict(feed) for feed in feeds])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    return Feeds()


def input_outliers(module: Any, forward: Callable[[], Any], ratio: float, prefix: str = "") -> set[str]:
    """Names (``prefix`` + module path) of ``module``'s ``nn.Linear`` layers whose input, during
    ``forward()``, peaks above ``ratio`` times its root mean square (they stay fp32 at int8)."""
    import torch

    peaks: dict[str, float] = {}

    def watch(name: str) -> Any:
        def hook(_module: Any, inputs: tuple[Any, ...], _output: Any) -> None:
            x = inputs[0].detach().float()
            rms = x.pow(2).mean().sqrt().item()
            peaks[name] = max(peaks.get(name, 0.0), x.abs().max().item() / rms if rms > 0 else 0.0)

        return hook

    handles = [
        layer.register_forward_hook(watch(prefix + name))
        for name, layer in module.named_modules()
        if isinstance(layer, torch.nn.Linear)
    ]
    try:
        with torch.inference_mode():
            forward()
    finally:
        for handle in handles:
            handle.remove()
    return {name for name, peak in peaks.items() if peak > ratio}


def session(path: Path, threads: int | None = None, spinning: bool = False, backend: str = "onnx",
            precision: str = "fp32") -> Any:
    """An ONNX Runtime CPU session of ``path`` (all graph optimisations; ``threads`` intra-op threads),
    or with ``backend="openvino"`` an :class:`~rankfw.models.openvino_runtime.OpenVinoSession` of it
    (same ``run`` / ``get_inputs``; ``precision`` picks its inference precision).

    Idle worker threads sleep instead of spinning (``spinning=False``): on a shared or busy CPU a
    spinning pool waits on descheduled threads at every parallel step (measured on this 2-core
    machine under load 9: 10 cross-encoder pairs took 700 ms with 2 spinning threads, 340 ms with 2
    sleeping ones, 330 ms with 1), and a server's workers are idle between requests.
    """
    if backend == "openvino":
        from rankfw.models.openvino_runtime import OpenVinoSession

        return OpenVinoSession(path, threads, precision)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_batches(session: Any, feeds: Iterable[tuple[Any, Mapping[str, np.ndarray]]]) -> Iterator[tuple[Any, np.ndarray]]:
    """``(key, first output)`` of each ``(key, feeds)`` batch: on every stream of an OpenVINO session
    (as batches finish), one after another on an ONNX Runtime one."""
    if hasattr(session, "run_batches"):
        yield from session.run_batches(feeds)
        return
    for key, feed in feeds:
        yield key, session.run(None, feed)[0]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of ``batch_size``, longest first, so each batch pads to little more than
    its own members (sequence-length bucketing)."""
    import numpy as np

    order = np.argsort([-n for n in lengths], kind="stable").tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(rows: Mapping[str, Sequence[Sequence[int]]], pad_id: int) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays of token rows (``input_ids`` with ``pad_id``, others with 0) and the
    ``attention_mask``."""
    import numpy as np

    ids = rows["input_ids"]
    width = max(len(r) for r in ids)
    out = {}
    for name, values in rows.items():
        array = np.full((len(values), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
        for i, r in enumerate(values):
            array[i, : len(r)] = r
        out[name] = array
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, r in enumerate(ids):
        mask[i, : len(r)] = 1
    out["attention_mask"] = mask
    return out
