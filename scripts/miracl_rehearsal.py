"""Rehearse examples/miracl.yaml offline: a MIRACL mirror (ir_datasets layout), pyserini prebuilt
indexes and a HuggingFace cache, all built locally under one folder, then the spec run unmodified
except for size overrides, every stage, with HF_HUB_OFFLINE=1.

    python scripts/miracl_rehearsal.py                 # in a temporary folder, removed afterwards
    python scripts/miracl_rehearsal.py --root /tmp/mr  # keep the caches and the outputs there

See rankfw/testing/rehearsal.py for what is mirrored and which models stand in for the hub ids;
tests/test_miracl_rehearsal.py (slow) runs the same and checks the outputs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rankfw.testing import rehearsal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="folder for the caches and outputs (default: a temporary one)")
    parser.add_argument("--languages", default=",".join(rehearsal.LANGUAGES), help="MIRACL languages (XQuAD-R ones)")
    parser.add_argument("--limit", type=int, default=rehearsal.LIMIT, help="dev topics per language")
    args = parser.parse_args()
    languages = tuple(args.languages.split(","))
    with tempfile.TemporaryDirectory(prefix="miracl-rehearsal-") as tmp:
        root = args.root or Path(tmp)
        start = time.perf_counter()
        env = rehearsal.prepare(root, languages)
        print(f"caches ready under {root} in {time.perf_counter() - start:.0f}s: "
              + ", ".join(f"{k}={v}" for k, v in env.items()), flush=True)
        cmd = rehearsal.command(root / "out", languages=languages, limit=args.limit)
        print(" ".join(cmd), flush=True)
        return subprocess.run(cmd, check=False, env={**os.environ, **env}).returncode


if __name__ == "__main__":
    sys.exit(main())
