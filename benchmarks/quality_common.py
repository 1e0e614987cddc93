"""What the quality scripts share: the data folder, a printing progress context, nDCG@10."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rankfw.core import Run, StageContext
from rankfw.run.evaluate import evaluate
from rankfw.testing import xquad_data

ROOT = Path(__file__).resolve().parents[1]
XQUAD = xquad_data()


class _Bar:
    """A progress bar that prints a line every ``every`` seconds (for long runs in a log)."""

    def __init__(self, description: str, total: float | None, every: float) -> None:
        self.description, self.total, self.done, self.every, self.next = description, total, 0.0, every, time.time()

    def advance(self, amount: float = 1, **fields: Any) -> None:
        self.done += amount
        if time.time() >= self.next or (self.total and self.done >= self.total):
            print(f"  {self.description}: {self.done:.0f}/{self.total} {fields}", flush=True)
            self.next = time.time() + self.every


def context(out: Path, stage: str, language: str | None, every: float = 30) -> StageContext:
    """A StageContext whose progress prints a line every ``every`` seconds."""

    @contextmanager
    def progress(description: str, total: float | None = None) -> Iterator[_Bar]:
        yield _Bar(description, total, every)

    work = out / stage
    work.mkdir(parents=True, exist_ok=True)
    return StageContext(stage, language, work, out / "cache", progress, lambda m: print(m, flush=True))


def ndcg10(run: Run, qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10, as the pipeline computes it."""
    return evaluate(run, qrels, ["nDCG@10"])["nDCG@10"]


def write_bm25_runs(out: Path, langs: list[str], data: dict[str, tuple[Any, dict[str, str], Any]]) -> None:
    """BM25 top-100 of each language's topics into ``out/bm25/LANG.trec`` (what the child process does)."""
    from rankfw_bm25 import BM25Retriever

    for lang in langs:
        path = out / "bm25" / f"{lang}.trec"
        if not path.exists():
            corpus, topics, _ = data[lang]
            BM25Retriever(BM25Retriever.Config(k=100)).retrieve(topics, corpus, context(out, "bm25", lang)).write_trec(path)


def ensure_bm25_runs(script: str, out: Path, langs: list[str]) -> None:
    """Run ``script --bm25-only`` in a child process unless every BM25 run is there (the JVM stays
    out of the process that runs torch)."""
    import subprocess
    import sys

    if any(not (out / "bm25" / f"{lang}.trec").exists() for lang in langs):
        subprocess.run([sys.executable, script, "--bm25-only", "--out", str(out), "--languages", *langs], check=True)
