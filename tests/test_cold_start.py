"""`rankfw validate` stays light: no model, JVM or data-frame library is imported to check a spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers", "pyserini", "jnius", "pandas", "onnxruntime", "faiss",
         "ranx", "sklearn", "scipy")

_VALIDATE = """
import json, sys
from rankfw.cli import main
try:
    main(["validate", sys.argv[1]], standalone_mode=False)
    code = 0
except SystemExit as exit:
    code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def validate_in_fresh_process(spec: Path) -> dict[str, object]:
    """``rankfw validate SPEC`` in a new interpreter: its exit code and the heavy modules it imported."""
    done = subprocess.run([sys.executable, "-c", _VALIDATE, str(spec), json.dumps(HEAVY)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_validate_quickstart_imports_no_heavy_library() -> None:
    result = validate_in_fresh_process(REPO / "examples" / "quickstart.yaml")
    assert result["code"] in (0, None)
    assert result["heavy"] == []


def test_validate_of_a_bad_spec_imports_no_heavy_library(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    text = (REPO / "examples" / "quickstart.yaml").read_text()
    spec.write_text(text.replace("root: data/xquad", f"root: {REPO / 'data' / 'xquad'}")
                    .replace("component: rrf", "component: no-such-fuser"))
    result = validate_in_fresh_process(spec)
    assert result["code"] == 2
    assert result["heavy"] == []
