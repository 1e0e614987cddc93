"""The offline MIRACL rehearsal: ``examples/miracl.yaml`` run unmodified through every real loading
path (ir_datasets' MIRACL loader, pyserini's prebuilt indexes, models by hub id) with no network.

:func:`prepare` fills, under one folder, what a user's first online run would download:

- ``irds/``: a MIRACL mirror (``IR_DATASETS_HOME``) of the XQuAD-R collections of
  :data:`LANGUAGES` (de without training questions, as in MIRACL);
- ``pyserini/``: pyserini's prebuilt-index cache (``PYSERINI_CACHE``) with ``miracl-v1.0-<lang>``
  indexes built locally;
- ``hf/``: a HuggingFace cache (``HF_HOME``) holding, under the spec's hub ids, the bundled
  multilingual-e5-small (as ``intfloat/multilingual-e5-base``), the bundled English
  all-MiniLM-L6-v2 (as the teacher ``intfloat/e5-base-v2``), and tiny random-weight models of the
  real architectures where no weights exist offline: NLLB-200 (``M2M100``, NLLB language codes)
  and XLM-R (``xlm-roberta-large``).

:func:`command` is the ``rankfw run`` line: the spec file as shipped, with only size overrides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rankfw.testing import REPO

LANGUAGES = ("en", "es", "de")
"""Two languages with MIRACL training questions (en is translate-train's source) and one without."""

SPEC = REPO / "examples" / "miracl.yaml"
LIMIT = 10
"""Dev (and held-out) topics per language."""

OVERRIDES = (
    "stages.bm25.params.k=10", "stages.bm25_ho.params.k=10", "stages.bm25_train.params.k=10",
    "stages.tt.params.max_examples=12", "stages.tt.params.max_length=64",
    "stages.tt.params.translator.num_beams=1", "stages.tt.params.translator.max_length=12",
    "stages.distill.params.max_pairs=16", "stages.distill.params.max_queries=4", "stages.distill.params.candidates=4",
    "stages.distill.params.max_length=48", "stages.distill.params.batch_size=8",
    "stages.ft_bi.params.max_examples=8", "stages.ft_bi.params.max_length=48", "stages.ft_bi.params.batch_size=8",
    "stages.ft_ce.params.max_examples=16", "stages.ft_ce.params.max_length=64",
    "stages.ce.params.depth=10", "stages.ce_ho.params.depth=10",
)
"""Size overrides only (steps, examples, hits, lengths): every stage of the spec still runs."""

HUB_IDS = {
    "student": "intfloat/multilingual-e5-base",
    "teacher": "intfloat/e5-base-v2",
    "crossencoder": "xlm-roberta-large",
    "translator": "facebook/nllb-200-distilled-600M",
}


def environment(root: Path) -> dict[str, str]:
    """The environment variables of a rehearsal under ``root`` (caches there, everything offline)."""
    root = Path(root)
    return {
        "IR_DATASETS_HOME": str(root / "irds"), "PYSERINI_CACHE": str(root / "pyserini"), "HF_HOME": str(root / "hf"),
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "RANKFW_CACHE": str(root / "rankfw"),
    }


def prepare(root: Path, languages: tuple[str, ...] = LANGUAGES, data: Path | None = None) -> dict[str, str]:
    """Fill the three caches under ``root``; returns :func:`environment` (also set in ``os.environ``
    while indexing, since ir_datasets and pyserini read it)."""
    from rankfw.models import resolve_model
    from rankfw.testing.hub_mirror import seed_hub, tiny_nllb, tiny_xlmr

    root = Path(root)
    env = environment(root)
    # ir_datasets reads IR_DATASETS_HOME once, when first imported: a process that has imported it
    # already (a test session) would write and read its real home, so the mirror and the indexes
    # are made in a fresh interpreter (which also keeps the JVM out of this process)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from rankfw.testing.miracl_mirror import write_irds_mirror, write_prebuilt_indexes\n"
        "root, languages, data = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] or None\n"
        "write_irds_mirror(root / 'irds', languages, data)\n"
        "write_prebuilt_indexes(root / 'pyserini', languages)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(root), json.dumps(list(languages)), str(data or "")],
                          env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building the MIRACL mirror failed: {done.stderr.strip()[-2000:]}")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        e5 = Path(resolve_model("bundled:multilingual-e5-small", root / "rankfw"))
        minilm = Path(resolve_model("bundled:all-MiniLM-L6-v2", root / "rankfw"))
        seed_hub(root / "hf", {
            HUB_IDS["student"]: e5,
            HUB_IDS["teacher"]: minilm,
            HUB_IDS["crossencoder"]: tiny_xlmr(root / "build" / "xlmr", e5),
            HUB_IDS["translator"]: tiny_nllb(root / "build" / "nllb"),
        })
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return env


def command(out: Path, spec: Path = SPEC, languages: tuple[str, ...] = LANGUAGES, limit: int = LIMIT) -> list[str]:
    """``rankfw run SPEC`` for the rehearsal: the chosen languages, ``--limit`` topics, :data:`OVERRIDES`."""
    args = ["rankfw", "run", str(spec), "--out", str(out), "--languages", ",".join(languages), "--limit", str(limit)]
    for override in OVERRIDES:
        args += ["--set", override]
    return args
