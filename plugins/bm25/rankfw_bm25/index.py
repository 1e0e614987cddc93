"""Lucene indexes built from a rankfw Corpus, cached by corpus content hash.

An index lives in ``<cache_dir>/bm25/<key>/`` where the key hashes the corpus fingerprint, the
language's analysis, the indexed fields and the Anserini (and tokenizer) version; it is built in a
temporary folder beside it and renamed into place when complete, so an interrupted build never
leaves a half-written index. ``rankfw-bm25.json`` inside the folder records how it was built.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankfw.core import (
    Corpus,
    StageContext,
    StageError,
    atomic_write_json,
    replace_dir,
    scratch_dir,
    text_digest,
)
from rankfw_bm25 import jvm
from rankfw_bm25.languages import Analysis

META_FILE = "rankfw-bm25.json"
FORMAT = 1


def document_contents(title: str, text: str, fields: Sequence[str]) -> str:
    """The indexed text of a document: its ``fields`` joined by a space (MIRACL: ``title text``)."""
    values = {"title": title, "text": text}
    return " ".join(values[f] for f in fields if values[f])


def analyzer_version(analysis: Analysis) -> str:
    """Everything that decides the tokens: Anserini version, and the Python tokenizer if any."""
    version = f"anserini-{jvm.anserini_version()}"
    if analysis.pretokenized:
        from rankfw_bm25 import thai

        version += "+" + thai.tokenizer_version()
    return version


def index_key(corpus: Corpus, analysis: Analysis, fields: Sequence[str]) -> str:
    """The cache key of the index of ``corpus`` analysed by ``analysis`` over ``fields``."""
    return text_digest(f"format={FORMAT}", corpus.fingerprint, analysis.name, ",".join(fields), analyzer_version(analysis))[:32]


def read_meta(index_dir: Path) -> dict[str, Any] | None:
    """The build record of an index made here, ``None`` for any other index."""
    path = Path(index_dir) / META_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def cached_index(corpus: Corpus, analysis: Analysis, fields: Sequence[str], threads: int, ctx: StageContext) -> Path:
    """The folder of the index of ``corpus``: reused from the cache, or built and cached."""
    key = index_key(corpus, analysis, fields)
    target = Path(ctx.cache_dir) / "bm25" / key
    if read_meta(target) is not None:
        ctx.log(f"bm25: reusing the {analysis.name} index {target}")
        return target
    scratch = scratch_dir(target)
    try:
        built = scratch / "index"
        count = build_index(corpus, analysis, fields, built, scratch / "input", threads, ctx)
        atomic_write_json(
            built / META_FILE,
            {
                "format": FORMAT,
                "corpus": corpus.fingerprint,
                "documents": count,
                "language": analysis.language,
                "analysis": analysis.name,
                "pretokenized": analysis.pretokenized,
                "fields": list(fields),
                "analyzer_version": analyzer_version(analysis),
            },
        )
        if read_meta(target) is None:  # another process may have finished the same index meanwhile
            replace_dir(built, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ctx.log(f"bm25: built the {analysis.name} index {target} ({count} documents)")
    return target


def build_index(
    corpus: Corpus,
    analysis: Analysis,
    fields: Sequence[str],
    index_dir: Path,
    input_dir: Path,
    threads: int,
    ctx: StageContext,
) -> int:
    """Index ``corpus`` into ``index_dir`` with Anserini; returns the number of documents."""
    input_dir.mkdir(parents=True, exist_ok=True)
    count = write_json_collection(corpus, analysis, fields, input_dir / "docs.jsonl", ctx)
    if count == 0:
        raise StageError(ctx.stage, "the corpus has no documents to index")
    args = [
        "-collection", "JsonCollection",
        "-generator", "DefaultLuceneDocumentGenerator",
        "-input", str(input_dir),
        "-index", str(index_dir),
        "-threads", str(max(1, threads)),
        "-storePositions", "-storeDocvectors",
        "-quiet",
    ]  # fmt: skip
    args += ["-pretokenized"] if analysis.pretokenized else ["-language", analysis.language]
    with ctx.progress(f"bm25: indexing {count} {analysis.language} documents", None) as bar:
        jvm.index_collection(args)
        bar.advance(1)
    indexed = index_size(index_dir)
    if indexed != count:
        raise StageError(ctx.stage, f"Anserini indexed {indexed} of {count} documents (see its log above)")
    return count


def write_json_collection(corpus: Corpus, analysis: Analysis, fields: Sequence[str], path: Path, ctx: StageContext) -> int:
    """Write ``corpus`` as one Anserini JsonCollection file (``{"id", "contents"}`` lines)."""
    segment = None
    if analysis.pretokenized:
        from rankfw_bm25.thai import segment
    count = 0
    with ctx.progress(f"bm25: preparing {analysis.language} documents", len(corpus)) as bar, open(path, "w", encoding="utf-8") as out:
        for doc in corpus:
            contents = document_contents(doc.title, doc.text, fields)
            if segment is not None:
                contents = segment(contents)
            out.write(json.dumps({"id": doc.docid, "contents": contents}, ensure_ascii=False) + "\n")
            count += 1
            if count % 1000 == 0:
                bar.advance(1000)
        bar.advance(count % 1000)
    return count


def index_size(index_dir: Path) -> int:
    """The number of documents in a Lucene index."""
    if not os.path.isdir(index_dir):
        return 0
    searcher = jvm.simple_searcher(str(index_dir))
    try:
        return int(searcher.get_total_num_docs())
    finally:
        searcher.close()
