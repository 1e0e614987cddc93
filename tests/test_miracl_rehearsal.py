"""The offline MIRACL rehearsal (slow): examples/miracl.yaml, unmodified but for size overrides,
runs every stage through ir_datasets' MIRACL loader, pyserini's prebuilt-index names and hub-id
models, all from caches built locally (rankfw.testing.rehearsal), with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankfw.testing import REPO, rehearsal

pytestmark = pytest.mark.slow

RANKING = ("bm25", "bi", "ce", "fused")
HELDOUT = ("bm25_ho", "bi_ho", "ce_ho", "bm25_train")
TRAINED = ("tt", "distill", "ft_bi", "ft_ce", "tune")


def _run_file(path: Path) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        qid, _, docid, _, score, _ = line.split()
        out.setdefault(qid, []).append((docid, float(score)))
    return out


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    import ir_datasets  # noqa: F401  as in a test session where another test imported it first (CI's
    # slow run): it reads IR_DATASETS_HOME once, so the mirror must be made in a fresh process

    root = tmp_path_factory.mktemp("miracl-rehearsal")
    env = {**os.environ, **rehearsal.prepare(root)}
    done = subprocess.run(rehearsal.command(root / "out"), check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=2400)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, env


def test_the_mirror_is_where_ir_datasets_and_pyserini_look(rehearsed: tuple[Path, dict[str, str]]) -> None:
    root, env = rehearsed
    check = (
        "import ir_datasets, json, sys\n"
        "from rankfw_bm25 import jvm; jvm.start_jvm()\n"
        "from pyserini.util import download_prebuilt_index\n"
        "dev = ir_datasets.load('miracl/de/dev')\n"
        "print(json.dumps({'queries': sum(1 for _ in dev.queries_iter()), 'doc': dev.docs_store().get('xq-02-0-0').title,\n"
        "  'es_train': sum(1 for _ in ir_datasets.load('miracl/es/train').queries_iter()),\n"
        "  'de_train': 'miracl/de/train' in ir_datasets.registry, 'index': download_prebuilt_index('miracl-v1.0-de', verbose=False)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", check], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["queries"] == 258 and found["doc"] and found["es_train"] == 354
    assert found["de_train"] is False  # as in MIRACL: no German training questions
    assert Path(found["index"]).parent == root / "pyserini" / "indexes" and Path(found["index"]).name.startswith("lucene-index.miracl-v1.0-de.")


def test_every_stage_ran_in_its_languages(rehearsed: tuple[Path, dict[str, str]]) -> None:
    out = rehearsed[0] / "out" / "stages"
    for stage in RANKING:
        assert sorted(p.stem for p in (out / stage).glob("*.run")) == ["de", "en", "es"], stage
    for stage in HELDOUT:
        assert sorted(p.stem for p in (out / stage).glob("*.run")) == ["en", "es"], stage  # de has no training questions
    for stage in TRAINED:
        assert (out / stage / "done").exists() and any((out / stage / "model").iterdir()), stage
    # translate-train translated into es with the NLLB-architecture model and left its translations for distill
    pairs = (out / "tt" / "model" / "translations" / "es.tsv").read_text(encoding="utf-8").splitlines()
    assert pairs and all(len(p.split("\t")) == 2 for p in pairs)
    assert not (out / "tt" / "model" / "translations" / "de.tsv").exists()
    config = json.loads((out / "ft_ce" / "model" / "config.json").read_text())  # xlm-roberta-large's architecture, 1 logit
    assert config["architectures"] == ["XLMRobertaForSequenceClassification"] and len(config["id2label"]) == 1
    assert json.loads((out / "distill" / "model" / "config.json").read_text())["model_type"] == "bert"  # the e5 student


def test_metrics_are_sane_and_fusion_is_weighted(rehearsed: tuple[Path, dict[str, str]]) -> None:
    root = rehearsed[0]
    metrics = json.loads((root / "out" / "metrics.json").read_text())["stages"]
    for stage in RANKING:
        for lang in ("de", "en", "es"):
            values = metrics[stage]["languages"][lang]
            assert 0.0 <= values["nDCG@10"] <= 1.0 and 0.0 <= values["R@100"] <= 1.0, (stage, lang)
    for lang in ("de", "en", "es"):
        assert metrics["bm25"]["languages"][lang]["nDCG@10"] > 0.6  # the real BM25 over real questions
        assert metrics["bi"]["languages"][lang]["nDCG@10"] > 0.6  # the real (bundled) e5 student, distilled and fine-tuned
    tuned = json.loads((root / "out" / "stages" / "tune" / "model" / "weights.json").read_text())
    assert tuned["runs"] == ["bm25_ho", "bi_ho", "ce_ho"] and sorted(tuned["scores_by_language"]) == ["en", "es"]
    assert sum(tuned["weights"]) == pytest.approx(1.0) and 0 < tuned["score"] <= 1
    stages = root / "out" / "stages"
    for lang in ("de", "en", "es"):
        fused = _run_file(stages / "fused" / f"{lang}.run")
        inputs = [_run_file(stages / s / f"{lang}.run") for s in ("bm25", "bi", "ce")]
        assert len(fused) == rehearsal.LIMIT and all(fused.values())
        for qid, hits in fused.items():
            assert {d for d, _ in hits} <= {d for run in inputs for d, _ in run.get(qid, [])}


def test_prebuilt_bm25_equals_bm25_on_a_locally_built_index(rehearsed: tuple[Path, dict[str, str]]) -> None:
    root, env = rehearsed
    local = root / "local"
    cmd = ["rankfw", "run", str(REPO / "examples" / "miracl-bm25.yaml"), "--out", str(local), "--languages", "en,es,de",
           "--limit", str(rehearsal.LIMIT), "--set", "stages.bm25.params.k=10", "-q"]
    done = subprocess.run(cmd, check=False, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for lang in ("de", "en", "es"):
        prebuilt = _run_file(root / "out" / "stages" / "bm25" / f"{lang}.run")
        built = _run_file(local / "stages" / "bm25" / f"{lang}.run")
        assert prebuilt.keys() == built.keys() and len(prebuilt) == rehearsal.LIMIT
        for qid, hits in built.items():
            assert [d for d, _ in prebuilt[qid]] == [d for d, _ in hits], (lang, qid)
            assert [round(s, 4) for _, s in prebuilt[qid]] == [round(s, 4) for _, s in hits], (lang, qid)
