"""Benchmark: the rankfw ``bm25`` stage against raw pyserini ``LuceneSearcher.batch_search``.

Both search the same Lucene index (built once by the plugin, from the cache afterwards) with the
same topics, BM25(k1=0.9, b=0.4), k hits and threads, in one process and one JVM; rounds alternate
between the two and the table shows the median of each. Both sides turn Lucene's hits into
``(docid, score)`` lists (what any user of a run needs); the raw side's time without that step is
shown too.

Scaling: size N is a corpus made of the first N XQuAD-R languages' corpora concatenated (docids
``LANG-DOCID``) searched with the dev questions of those N languages, repeated ``--copies`` times
(distinct qids), with one analyzer (``--language``): corpus and queries both grow with N.
Peak memory: each side once at the largest size, in its own process.

    python benchmarks/bench_bm25.py [--sizes 1 4 11] [--copies 1] [--k 100] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_common import add_common_args, make_row, peaks, write_json

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_topics
from rankfw.testing import xquad_data

LANGUAGES = ["en", "de", "es", "ar", "el", "hi", "ru", "th", "tr", "vi", "zh"]
PEER = "pyserini LuceneSearcher.batch_search"


def build_inputs(data: Path, languages: list[str], copies: int, folder: Path) -> tuple[Path, dict[str, str]]:
    """The concatenated corpus file (written once into ``folder``) and the repeated topics."""
    path = folder / f"corpus-{'-'.join(languages)}.jsonl"
    if not path.exists():
        with path.open("w", encoding="utf-8") as out:
            for lang in languages:
                for line in (data / lang / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
                    doc = json.loads(line)
                    doc["docid"] = f"{lang}-{doc['docid']}"
                    out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    topics = {f"{lang}-{qid}-{c}": q for c in range(copies) for lang in languages
              for qid, q in read_topics(data / lang / "topics.dev.tsv").items()}
    return path, topics


class Sides:
    """Both sides on one size: the rankfw stage and raw pyserini over the index the stage built."""

    def __init__(self, args: argparse.Namespace, n_languages: int, side: str | None = None) -> None:
        from rankfw_bm25 import jvm
        from rankfw_bm25.retriever import BM25Config, BM25Retriever

        path, self.topics = build_inputs(args.data, LANGUAGES[:n_languages], args.copies, args.cache)
        self.corpus = JsonlCorpus(path, args.cache)
        self.ctx = StageContext("bm25", args.language, args.cache, args.cache)
        self.retriever = BM25Retriever(BM25Config(language=args.language, k=args.k, threads=args.threads))
        self.k, self.threads = args.k, args.threads
        index_dir, _ = self.retriever.index_for(self.corpus, args.language, args.threads, self.ctx)  # build once
        self.searcher: Any = None
        if side != "rankfw":
            jvm.start_jvm()
            # raw pyserini's own import (rankfw_bm25 avoids it: it pulls in torch and transformers)
            from pyserini.search.lucene import LuceneSearcher

            self.searcher = LuceneSearcher(index_dir)
            self.searcher.set_language(args.language)
            self.searcher.set_bm25(0.9, 0.4)
        self.label = f"{len(self.topics):,} queries x {len(self.corpus):,} docs"

    def rankfw(self) -> Run:
        """The stage: open the searcher, search in batches, build the Run."""
        return self.retriever.retrieve(self.topics, self.corpus, self.ctx)

    def peer(self) -> tuple[dict[str, list[tuple[str, float]]], float]:
        """pyserini's batch_search; the hits as (docid, score) lists and the batch_search time alone."""
        start = time.perf_counter()
        results = self.searcher.batch_search(list(self.topics.values()), list(self.topics), k=self.k,
                                             threads=self.threads)
        search_only = time.perf_counter() - start
        return {qid: [(hit.docid, hit.score) for hit in hits] for qid, hits in results.items()}, search_only


def measure(sides: Sides, rounds: int) -> dict[str, Any]:
    """Median wall and CPU seconds of each side (rounds alternate) and whether the rankings agree."""
    times: dict[str, list[float]] = {k: [] for k in ("rankfw", "peer", "search_only", "rankfw_cpu", "peer_cpu")}
    sides.rankfw()  # warm-up (JIT, page cache) for both sides
    sides.peer()
    for r in range(rounds):
        for side in ("rankfw", "peer") if r % 2 == 0 else ("peer", "rankfw"):
            start, cpu = time.perf_counter(), time.process_time()  # process CPU time includes JVM threads
            if side == "rankfw":
                run = sides.rankfw()
            else:
                hits, search_only = sides.peer()
                times["search_only"].append(search_only)
            times[side].append(time.perf_counter() - start)
            times[f"{side}_cpu"].append(time.process_time() - cpu)
    same = all([d for d, _ in run[q]] == [d for d, _ in hits.get(q, [])] for q in sides.topics)
    return {k: statistics.median(v) for k, v in times.items()} | {"same": same}


def main() -> None:
    """Run the benchmark, print its table, write the rows (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 11], help="languages in the corpus (1-11)")
    parser.add_argument("--copies", type=int, default=1, help="times the dev topics are repeated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--language", default="en", help="the analyzer of the (mixed) corpus and the queries")
    parser.add_argument("--data", type=Path, default=xquad_data())
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    add_common_args(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bm25-") as scratch:
        args.cache = args.cache or Path(scratch)
        if args.side:  # one side once at the largest size, for its peak memory
            sides = Sides(args, max(args.sizes), args.side)
            sides.rankfw() if args.side == "rankfw" else sides.peer()
        else:
            run(args)


def run(args: argparse.Namespace) -> None:
    """Time both sides at every size, print the table, write the rows."""
    print(f"BM25 search, k={args.k}, threads={args.threads}, {args.language} analyzer, "
          f"median of {args.rounds} rounds, one process")
    print(f"{'size':<28}{'rankfw s':>10}{'pyserini s':>12}{'(search only)':>15}{'ratio':>8}"
          f"{'rankfw cpu':>12}{'pyserini cpu':>14}{'cpu ratio':>11}  same run")
    rows = []
    for n in args.sizes:
        sides = Sides(args, n)
        m = measure(sides, args.rounds)
        sides.searcher.close()
        memory = None
        if n == max(args.sizes):
            passed = ["--sizes", str(n), "--copies", str(args.copies), "--k", str(args.k), "--threads",
                      str(args.threads), "--language", args.language, "--data", str(args.data), "--cache", str(args.cache)]
            memory = peaks(__file__, passed, not args.no_memory)
        rows.append(make_row("bm25", PEER, n, sides.label, m["rankfw"], m["peer"], memory, m["same"],
                             peer_search_only_s=m["search_only"], rankfw_cpu_s=m["rankfw_cpu"],
                             peer_cpu_s=m["peer_cpu"], languages=LANGUAGES[:n]))
        print(f"{sides.label:<28}{m['rankfw']:>10.3f}{m['peer']:>12.3f}{m['search_only']:>15.3f}"
              f"{m['rankfw'] / m['peer']:>8.3f}{m['rankfw_cpu']:>12.3f}{m['peer_cpu']:>14.3f}"
              f"{m['rankfw_cpu'] / m['peer_cpu']:>11.3f}  {m['same']}", flush=True)
    last = rows[-1]
    if last["rankfw_peak_mb"] is not None:
        print(f"peak RSS at {last['label']} (own process each): rankfw {last['rankfw_peak_mb']:.0f} MB, "
              f"pyserini {last['peer_peak_mb']:.0f} MB")
    print("ratio = rankfw / raw pyserini (below 1: rankfw is faster; target <= 1.05)")
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
