"""What the ``bench_*.py`` scripts share: result rows, their JSON file, and peak memory of one side.

A row compares rankfw with its peer on the same inputs in the same run::

    {"component", "peer", "size", "label", "rankfw_s", "peer_s", "ratio", "rankfw_peak_mb", "peer_peak_mb", "same", ...}

``ratio`` is ``rankfw_s / peer_s``: below 1 rankfw is faster. Peak memories (resident set, MB) come
from a child process per side (:func:`side_peak_mb`), so the two sides never share a peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SIDES = ("rankfw", "peer")

_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""Runs the child and prints its ``ru_maxrss`` (KB). Linux carries a process's peak RSS across
``exec`` from the process image it replaces; a child forked by a big benchmark process would start
with that process's peak, a child forked by this small launcher starts clean."""


def side_peak_mb(script: str, args: list[str], side: str) -> float:
    """Peak RSS (MB) of ``python script *args --side side``, the child's own (``wait4``)."""
    cmd = [sys.executable, "-c", _LAUNCHER, sys.executable, script, *args, "--side", side]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(script).name} --side {side} exited with {done.returncode}:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1]) / 1024


def peaks(script: str, args: list[str], enabled: bool = True) -> dict[str, float | None]:
    """``{"rankfw": MB, "peer": MB}``, each side in its own child process (``None`` when disabled)."""
    return {side: side_peak_mb(script, args, side) if enabled else None for side in SIDES}


def make_row(component: str, peer: str, size: int, label: str, rankfw_s: float, peer_s: float,
             memory: dict[str, float | None] | None = None, same: bool | None = None, **extra: Any) -> dict[str, Any]:
    """One result row (see the module docstring); ``extra`` keys are kept in the JSON only."""
    memory = memory or {}
    return {"component": component, "peer": peer, "size": size, "label": label,
            "rankfw_s": rankfw_s, "peer_s": peer_s, "ratio": rankfw_s / peer_s if peer_s else None,
            "rankfw_peak_mb": memory.get("rankfw"), "peer_peak_mb": memory.get("peer"), "same": same, **extra}


def write_json(path: Path | None, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to ``path`` (nothing when ``path`` is None)."""
    if path is not None:
        path.write_text(json.dumps(rows, indent=2) + "\n")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--json PATH``, ``--no-memory`` and the hidden ``--side`` (one side once, for its peak memory)."""
    parser.add_argument("--json", type=Path, help="also write the result rows (JSON) here")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)


PEER_BACKENDS = ["onnx", "onnx-int8", "openvino", "openvino-f32", "openvino-int8"]
"""sentence-transformers backends run by ``peer_st.py`` in the peer interpreters (torch runs in-process)."""


def add_peer_args(parser: argparse.ArgumentParser) -> None:
    """``--peer-python PATH...`` and ``--peer-backends``: where sentence-transformers' ONNX/OpenVINO run."""
    default = [p for p in os.environ.get("RANKFW_PEER_PYTHON", "").split(os.pathsep) if p]
    parser.add_argument("--peer-python", nargs="+", default=default, metavar="PATH",
                        help="interpreters of environments with sentence-transformers' onnx / openvino backends "
                             "(optimum-onnx, optimum-intel), tried in order per backend; default $RANKFW_PEER_PYTHON "
                             f"({os.pathsep}-separated); none: the peer's onnx/openvino rows are left out")
    parser.add_argument("--peer-backends", nargs="*", default=PEER_BACKENDS,
                        help="sentence-transformers backends timed by the peer interpreters")


class Peers:
    """sentence-transformers' ``--peer-backends`` served by ``peer_st.py`` in the ``--peer-python``
    interpreters (a backend in the first one where it loads), asked for one timing at a time so the
    benchmark interleaves them with its own rounds. ``backends``: ``{name: {"python", "versions"}}``."""

    def __init__(self, args: argparse.Namespace, kind: str, model: str, sizes: list[dict[str, Any]], tmp: Path,
                 max_length: int) -> None:
        wanted, self.backends, self._procs = list(args.peer_backends), {}, {}
        if wanted and not args.peer_python:
            print("note: no --peer-python / $RANKFW_PEER_PYTHON: sentence-transformers' onnx / openvino rows are left out")
        inputs = tmp / f"peer-{kind}-inputs.json"
        inputs.write_text(json.dumps(sizes))
        for i, python in enumerate(args.peer_python):
            if not wanted:
                break
            cmd = [python, str(Path(__file__).with_name("peer_st.py")), "--kind", kind, "--model", model, "--inputs",
                   str(inputs), "--backends", *wanted, "--threads", str(args.threads), "--batch-size",
                   str(args.batch_size), "--max-length", str(max_length), "--tmp", str(tmp / f"peer-{kind}-{i}")]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": ""}
            log = (tmp / f"peer-{kind}-{i}.log").open("w")
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
            ready = self._read(proc)
            if ready is None:
                print(f"note: {python} peer_st.py exited with {proc.wait()} (log: {log.name})")
                continue
            for backend, why in ready["failed"].items():
                print(f"note: ST {backend} does not run under {python}: {why}")
            for backend in ready["ready"]:
                self.backends[backend] = {"python": python, "versions": ready["versions"]}
                self._procs[backend] = proc
            wanted = [b for b in wanted if b not in self.backends]
        if wanted and args.peer_python:
            print(f"note: sentence-transformers {', '.join(wanted)} ran under none of {args.peer_python}")

    @staticmethod
    def _read(proc: subprocess.Popen) -> dict[str, Any] | None:
        for line in proc.stdout or []:
            if line.startswith("@@ "):
                return json.loads(line[3:])
        return None

    def time(self, backend: str, size: int) -> tuple[float, list[float]] | None:
        """One timing of ``backend`` on ``size``: (seconds, scores in input order); None (and the
        process's backends dropped, with a note) when its process has died, e.g. killed for memory."""
        proc = self._procs.get(backend)
        if proc is None:
            return None
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"backend": backend, "size": size}) + "\n")
            proc.stdin.flush()
            answer = self._read(proc)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            dead = [b for b, p in self._procs.items() if p is proc]
            print(f"note: the peer process of {', '.join(dead)} exited with {proc.wait()}: those rows are left out")
            for b in dead:
                self.backends.pop(b, None)
                self._procs.pop(b)
            return None
        return answer["seconds"], answer["scores"]

    def close(self) -> None:
        """End the peer processes."""
        for proc in set(self._procs.values()):
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
