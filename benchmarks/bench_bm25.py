"""Benchmark: the rankfw ``bm25`` stage against raw pyserini ``LuceneSearcher.batch_search``.

Both search the same Lucene index (built once by the plugin, from the cache afterwards) with the
same topics, BM25(k1=0.9, b=0.4), k hits and threads, in one process and one JVM; rounds alternate
between the two and the table shows the median of each. Both sides turn Lucene's hits into
``(docid, score)`` lists (what any user of a run needs); the raw side's time without that step is
shown too. Topics are the XQuAD-R dev questions, repeated ``--copies`` times (distinct qids) to make
a measurable batch.

    python benchmarks/bench_bm25.py [--languages en de zh th] [--copies 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rankfw_bm25 import jvm
from rankfw_bm25.languages import analysis_for
from rankfw_bm25.retriever import BM25Config, BM25Retriever

from rankfw.core import StageContext
from rankfw.core.data import JsonlCorpus, read_topics

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "xquad"
DATA = SHARED if SHARED.is_dir() else REPO / "data" / "xquad"


def raw_pyserini(searcher, topics: dict[str, str], k: int, threads: int) -> tuple[dict, float]:
    """pyserini's batch_search; returns the hits as (docid, score) lists and the batch_search time alone."""
    start = time.perf_counter()
    results = searcher.batch_search(list(topics.values()), list(topics), k=k, threads=threads)
    search_only = time.perf_counter() - start
    return {qid: [(hit.docid, hit.score) for hit in hits] for qid, hits in results.items()}, search_only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", nargs="+", default=["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"])
    parser.add_argument("--copies", type=int, default=2, help="times the dev topics are repeated")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    cache = Path(tempfile.mkdtemp(prefix="bench-bm25-"))
    runtime = jvm.start_jvm()
    t0 = time.perf_counter()
    from pyserini.search.lucene import LuceneSearcher  # raw pyserini's own import (rankfw_bm25 avoids it)

    import_s = time.perf_counter() - t0

    java = f"Java {runtime.major} from {runtime.source}" if runtime else "a JVM already running"
    print(f"BM25 search, k={args.k}, threads={args.threads}, median of {args.rounds} rounds, one process ({java})")
    print(f"{'lang':<6}{'queries':>8}{'rankfw s':>10}{'pyserini s':>12}{'(search only)':>15}{'ratio':>8}"
          f"{'rankfw cpu':>12}{'pyserini cpu':>14}{'cpu ratio':>11}  same run")
    rows = []
    for lang in args.languages:
        corpus = JsonlCorpus(args.data / lang / "corpus.jsonl", cache)
        dev = read_topics(args.data / lang / "topics.dev.tsv")
        topics = {f"{qid}-{c}": q for c in range(args.copies) for qid, q in dev.items()}
        ctx = StageContext("bm25", lang, cache, cache)
        retriever = BM25Retriever(BM25Config(k=args.k, threads=args.threads))
        index_dir, _ = retriever.index_for(corpus, lang, args.threads, ctx)  # build once, outside the timing
        searcher = LuceneSearcher(index_dir)
        if analysis_for(lang).pretokenized:
            searcher.set_analyzer(jvm.whitespace_analyzer())
            from rankfw_bm25.thai import segment

            raw_topics = {q: segment(t) for q, t in topics.items()}
        else:
            searcher.set_language(lang)
            raw_topics = topics
        searcher.set_bm25(0.9, 0.4)

        ours, raws, raw_search, ours_cpu, raws_cpu = [], [], [], [], []
        retriever.retrieve(topics, corpus, ctx)  # warm-up (JIT, page cache) for both sides
        raw_pyserini(searcher, raw_topics, args.k, args.threads)
        for r in range(args.rounds):
            for side in ("rankfw", "raw") if r % 2 == 0 else ("raw", "rankfw"):
                start, cpu = time.perf_counter(), time.process_time()  # process CPU time includes JVM threads
                if side == "rankfw":
                    run = retriever.retrieve(topics, corpus, ctx)
                    ours.append(time.perf_counter() - start)
                    ours_cpu.append(time.process_time() - cpu)
                else:
                    hits, search_only = raw_pyserini(searcher, raw_topics, args.k, args.threads)
                    raws.append(time.perf_counter() - start)
                    raws_cpu.append(time.process_time() - cpu)
                    raw_search.append(search_only)
        same = all([d for d, _ in run[q]] == [d for d, _ in hits.get(q, [])] for q in topics)
        med = statistics.median
        row = (lang, len(topics), med(ours), med(raws), med(raw_search), med(ours_cpu), med(raws_cpu), same)
        rows.append(row)
        _, n, a, b, c, ca, cb, _ = row
        print(f"{lang:<6}{n:>8}{a:>10.3f}{b:>12.3f}{c:>15.3f}{a / b:>8.3f}{ca:>12.3f}{cb:>14.3f}{ca / cb:>11.3f}  {same}",
              flush=True)
        searcher.close()

    tot = [sum(r[i] for r in rows) for i in range(1, 7)]
    print(f"{'all':<6}{tot[0]:>8}{tot[1]:>10.3f}{tot[2]:>12.3f}{tot[3]:>15.3f}{tot[1] / tot[2]:>8.3f}"
          f"{tot[4]:>12.3f}{tot[5]:>14.3f}{tot[4] / tot[5]:>11.3f}")
    print(f"ratio rankfw / raw pyserini = {tot[1] / tot[2]:.3f}x wall, {tot[4] / tot[5]:.3f}x CPU (target <= 1.05x)")
    print(f"(per process, raw pyserini also pays 'from pyserini.search.lucene import LuceneSearcher': {import_s:.1f} s; rankfw_bm25 does not import it)")


if __name__ == "__main__":
    main()
