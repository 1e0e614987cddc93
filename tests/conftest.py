"""Shared fixtures: the test plugin's registry, the shared XQuAD data, small files made per test."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import rankfw_testplugin

from rankfw.core.registry import Registry, load_registry
from rankfw.testing import xquad_data

XQUAD = xquad_data()


@pytest.fixture
def registry() -> Registry:
    """A registry holding only the test plugin (no entry points)."""
    return load_registry(extra_plugins=[("testplugin", rankfw_testplugin)], use_entry_points=False)


@pytest.fixture
def cli_registry(monkeypatch: pytest.MonkeyPatch, registry: Registry) -> Registry:
    """Make the CLI use the test plugin's registry."""
    import rankfw.core.registry as reg

    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    return registry


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HuggingFace home (``tmp_path/hf``) whose hub cache rankfw and huggingface_hub read, offline;
    seed models into it with :func:`rankfw.testing.hub_mirror.seed_hub_model`."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hf"


@pytest.fixture
def xquad() -> Path:
    """The XQuAD-R collections (../shared/data/xquad, else the repo's copy)."""
    return XQUAD


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A tiny two-language collection in the spec's layout, made by the test."""
    docs = {
        "en": [("d1", "Cats", "Cats purr and sleep all day."), ("d2", "Dogs", "Dogs bark at the mail carrier."),
               ("d3", "Birds", "Birds sing in the morning."), ("d4", "Fish", "Fish swim in the sea.")],
        "de": [("d1", "Katzen", "Katzen schnurren und schlafen."), ("d2", "Hunde", "Hunde bellen den Briefträger an."),
               ("d3", "Vögel", "Vögel singen am Morgen."), ("d4", "Fische", "Fische schwimmen im Meer.")],
    }
    queries = {"en": {"q1": "which animals purr", "q2": "who barks at the mail carrier"},
               "de": {"q1": "welche Tiere schnurren", "q2": "wer bellt den Briefträger an"}}
    for lang, rows in docs.items():
        folder = tmp_path / lang
        folder.mkdir()
        (folder / "corpus.jsonl").write_text(
            "".join(json.dumps({"docid": d, "title": t, "text": x}, ensure_ascii=False) + "\n" for d, t, x in rows),
            encoding="utf-8")
        (folder / "topics.dev.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in queries[lang].items()), encoding="utf-8")
        (folder / "qrels.dev.txt").write_text("q1 0 d1 1\nq2 0 d2 1\n", encoding="utf-8")
        train = [{"query_id": f"t{i}", "query": f"{rows[i][1]} {rows[i][2]}",
                  "positive_passages": [{"docid": rows[i][0], "title": rows[i][1], "text": rows[i][2]}],
                  "negative_passages": [{"docid": rows[(i + 1) % 4][0], "title": rows[(i + 1) % 4][1], "text": rows[(i + 1) % 4][2]}]}
                 for i in range(4)]
        with gzip.open(folder / "train.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in train)
    return tmp_path


@pytest.fixture
def write_spec():  # type: ignore[no-untyped-def]
    """A function that writes a spec file (see :func:`_write_spec`)."""
    return _write_spec


def _write_spec(path: Path, data_root: Path, out: Path, stages: str, languages: str = "[en, de]", extra: str = "") -> Path:
    """Write a spec over ``data_root`` (XQuAD layout) with the given ``stages:`` YAML block."""
    path.write_text(
        f"""name: test
output: {out}
dataset:
  root: {data_root}
  languages: {languages}
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
  train: "{{root}}/{{lang}}/train.jsonl.gz"
{extra}stages:
{stages}""",
        encoding="utf-8",
    )
    return path
