"""An offline MIRACL mirror for rehearsals: the files ir_datasets' ``miracl/<lang>`` loader reads,
and pyserini's prebuilt ``miracl-v1.0-<lang>`` Lucene indexes, made from the shipped XQuAD-R
collections (MIRACL's own formats: corpus JSONL ``docid/title/text``, topics TSV, TREC qrels).

- :func:`write_irds_mirror` writes every file where ir_datasets' ``downloads.json`` puts it under
  ``$IR_DATASETS_HOME/miracl/`` (the corpus split over as many ``docs-N.jsonl.gz`` files as MIRACL
  has for the language), so ``ir_datasets.load("miracl/de/dev")`` reads it without a download.
  A language of ``no_train`` gets no training files, as de and yo in MIRACL.
- :func:`write_prebuilt_indexes` builds a Lucene index of each mirrored corpus (Anserini's
  ``IndexCollection``, the language's analyzer, ``title text`` as MIRACL's indexes) into the folder
  pyserini's ``download_prebuilt_index`` looks in first (``$PYSERINI_CACHE/indexes/<tarball
  name>.<md5>``), so ``prebuilt: miracl-v1.0-de`` is found without a download.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from rankfw.testing import xquad_data

NO_TRAIN = ("de", "yo")
"""The MIRACL languages without training questions."""


def _downloads() -> dict[str, dict[str, object]]:
    import ir_datasets

    path = Path(ir_datasets.__file__).parent / "etc" / "downloads.json"
    return json.loads(path.read_text(encoding="utf-8"))["miracl"]


def _cache_path(downloads: dict[str, dict[str, object]], key: str) -> str:
    if key not in downloads:
        raise KeyError(f"ir_datasets has no MIRACL download {key!r}")
    return str(downloads[key]["cache_path"])


def write_irds_mirror(
    home: Path, languages: Sequence[str], data: Path | None = None, no_train: Iterable[str] = NO_TRAIN
) -> dict[str, int]:
    """Write MIRACL-layout files of ``languages`` (from XQuAD-R ``data``) under ``home/miracl``;
    returns the passages written per language."""
    data = Path(data) if data is not None else xquad_data()
    downloads = _downloads()
    base = Path(home) / "miracl"
    skip_train = set(no_train)
    counts: dict[str, int] = {}
    for lang in languages:
        parts = sorted((k for k in downloads if k.startswith(f"v1.0/{lang}/corpus/")), key=lambda k: int(k.rsplit("/", 1)[1]))
        if not parts:
            raise KeyError(f"ir_datasets has no MIRACL corpus for {lang!r}")
        lines = (data / lang / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
        docs = [json.loads(line) for line in lines if line.strip()]
        for n, key in enumerate(parts):  # round-robin over MIRACL's file count (some may be empty)
            chunk = docs[n :: len(parts)]
            _write_gz(base / _cache_path(downloads, key),
                      (json.dumps({"docid": d["docid"], "title": d.get("title", ""), "text": d["text"]}, ensure_ascii=False) for d in chunk))
        counts[lang] = len(docs)
        _copy_lines(data / lang / "topics.dev.tsv", base / _cache_path(downloads, f"v1.0/{lang}/dev/topics"))
        qrels = (data / lang / "qrels.dev.txt").read_text(encoding="utf-8").split("\n")
        _write(base / _cache_path(downloads, f"v1.0/{lang}/dev/qrels"), ("\t".join(q.split()) for q in qrels if q.strip()))
        if lang in skip_train:
            continue
        topics, judged = [], []
        with gzip.open(data / lang / "train.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                ex = json.loads(line)
                topics.append(f"{ex['query_id']}\t{' '.join(ex['query'].split())}")
                judged += [f"{ex['query_id']}\tQ0\t{p['docid']}\t1" for p in ex["positive_passages"]]
                judged += [f"{ex['query_id']}\tQ0\t{p['docid']}\t0" for p in ex.get("negative_passages", [])]
        _write(base / _cache_path(downloads, f"v1.0/{lang}/train/topics"), topics)
        _write(base / _cache_path(downloads, f"v1.0/{lang}/train/qrels"), judged)
    return counts


def write_prebuilt_indexes(cache: Path, languages: Sequence[str], threads: int = 2) -> dict[str, Path]:
    """Index the mirrored MIRACL corpora (read through ir_datasets: call :func:`write_irds_mirror`
    first, with ``IR_DATASETS_HOME`` set) into pyserini's prebuilt-index cache ``cache``
    (``PYSERINI_CACHE``) under the names ``miracl-v1.0-<lang>``; returns name -> folder."""
    import ir_datasets
    from rankfw_bm25 import jvm

    jvm.start_jvm()
    from pyserini.prebuilt_index_info import TF_INDEX_INFO

    out: dict[str, Path] = {}
    for lang in languages:
        name = f"miracl-v1.0-{lang}"
        info = TF_INDEX_INFO[name]
        folder_name = info["filename"].removesuffix(".tar.gz")
        target = Path(cache) / "indexes" / f"{folder_name}.{info['md5']}"
        if not target.is_dir():
            scratch = Path(tempfile.mkdtemp(prefix=".miracl-index."))
            try:
                docs = ir_datasets.load(f"miracl/{lang}").docs_iter()
                _write(scratch / "input" / "docs.jsonl", (
                    json.dumps({"id": d.doc_id, "contents": f"{d.title} {d.text}".strip()}, ensure_ascii=False) for d in docs
                ))
                jvm.index_collection([
                    "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
                    "-input", str(scratch / "input"), "-index", str(scratch / "index"), "-threads", str(threads),
                    "-storePositions", "-storeDocvectors", "-storeRaw", "-language", lang, "-quiet",
                ])  # fmt: skip
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(scratch / "index"), target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        out[name] = target
    return out


def _write(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def _write_gz(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def _copy_lines(source: Path, target: Path) -> None:
    _write(target, (line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()))
