"""OpenVINO inference of the exported ONNX models (``backend: openvino``): the same ``model.onnx``
(fp32, or the static-int8 QDQ model, which OpenVINO's CPU plugin runs on its int8 VNNI/AMX kernels)
compiled for the CPU, with an ONNX Runtime-like ``run`` so the rerankers batch exactly as on ONNX
Runtime. Light at import: openvino is imported when a model is compiled.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = ["OpenVinoSession", "cpu_has_bf16", "inference_precision", "stream_count"]

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


def stream_count(threads: int | None) -> int:
    """Inference streams for ``threads`` threads (all cores when ``None``): two when there are two
    threads or more, each stream on its share of them, so one batch's single-threaded steps (norms,
    softmax, the Python between calls) overlap the other's matrix products (measured on this 2-core
    AMX CPU: 1,000 cross-encoder pairs at bf16 in 2.66-2.72 s on 2 streams x 1 thread against 2.90 s
    on 1 stream x 2 threads, same scores)."""
    return 2 if (threads or os.cpu_count() or 1) >= 2 else 1


class OpenVinoSession:
    """``path`` (an ONNX model) compiled by OpenVINO for the CPU at ``precision``, on ``threads`` threads.

    :func:`stream_count` streams, one infer request each (dynamic batch and sequence axes).
    :meth:`run_batches` keeps every stream busy with the caller's length-sorted batches; ``run(None,
    feeds)`` (ONNX Runtime's call) splits one batch's rows across the streams and returns the outputs
    as a list of arrays. Calls from several threads take turns.
    """

    def __init__(self, path: Path, threads: int | None = None, precision: str = "fp32") -> None:
        import openvino as ov

        core = _core()
        self.streams = stream_count(threads)
        config = {
            "INFERENCE_PRECISION_HINT": inference_precision(precision, core),
            "PERFORMANCE_HINT": "THROUGHPUT" if self.streams > 1 else "LATENCY",
            "NUM_STREAMS": str(self.streams),
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        self.compiled = core.compile_model(str(path), "CPU", config)
        self.queue = ov.AsyncInferQueue(self.compiled, self.streams)
        self._lock = threading.Lock()
        self.precision = config["INFERENCE_PRECISION_HINT"]

    def get_inputs(self) -> list[_Input]:
        """The model's inputs (``.name`` each), as ONNX Runtime's ``get_inputs``."""
        return [_Input(port.get_any_name()) for port in self.compiled.inputs]

    def run(self, _outputs: Any, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output of one inference on ``feeds``, its rows split across the streams."""
        import numpy as np

        rows = len(next(iter(feeds.values())))
        parts = min(self.streams, rows) or 1
        bounds = np.linspace(0, rows, parts + 1).astype(int)
        chunks = [(i, {k: v[bounds[i]:bounds[i + 1]] for k, v in feeds.items()}) for i in range(parts)]
        got = dict(self._infer(chunks, every_output=True))
        return [np.concatenate([got[i][j] for i in range(parts)]) for j in range(len(self.compiled.outputs))]

    def run_batches(self, feeds: Iterable[tuple[Any, Mapping[str, np.ndarray]]]) -> Iterator[tuple[Any, np.ndarray]]:
        """``(key, first output)`` of each ``(key, feeds)``, as batches finish (not in input order);
        ``feeds`` is read lazily, a batch per free stream."""
        for key, outputs in self._infer(feeds, every_output=False):
            yield key, outputs[0]

    def _infer(self, feeds: Iterable[tuple[Any, Mapping[str, np.ndarray]]],
               every_output: bool) -> Iterator[tuple[Any, list[np.ndarray]]]:
        done: list[tuple[Any, list[np.ndarray]]] = []
        failed: list[BaseException] = []
        count = len(self.compiled.outputs) if every_output else 1

        def finished(request: Any, key: Any) -> None:  # on OpenVINO's thread; the buffers are reused
            try:
                done.append((key, [request.get_output_tensor(i).data.copy() for i in range(count)]))
            except BaseException as error:  # noqa: BLE001 - raised again on the caller's thread
                failed.append(error)

        with self._lock:
            self.queue.set_callback(finished)
            try:
                for key, feed in feeds:
                    self.queue.start_async(dict(feed), key)  # waits for a free stream
                    while done and not failed:
                        yield done.pop(0)
            finally:
                self.queue.wait_all()
            if failed:
                raise failed[0]
            while done:
                yield done.pop(0)
