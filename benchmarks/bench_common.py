"""What the ``bench_*.py`` scripts share: result rows, their JSON file, and peak memory of one side.

A row compares rankfw with its peer on the same inputs in the same run::

    {"component", "peer", "size", "label", "rankfw_s", "peer_s", "ratio", "rankfw_peak_mb", "peer_peak_mb", "same", ...}

``ratio`` is ``rankfw_s / peer_s``: below 1 rankfw is faster. Peak memories (resident set, MB) come
from a child process per side (:func:`side_peak_mb`), so the two sides never share a peak.
"""

from __future__ import annotations

import argparse
import json
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
