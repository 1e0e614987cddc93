"""Ranking quality of the bi-encoder's ONNX int8 against fp32: nDCG@10 of the ``biencoder`` rerank
stage on each language's dev questions, over 10 hard candidates per question.

    python benchmarks/quality_onnx.py [--model bundled:multilingual-e5-small] [--languages en de zh]
        [--questions 80] [--systems "onnx fp32" "onnx int8"] [--json out.json]

Candidates: the relevant sentence and its neighbours in the corpus (same paragraph, then the same
article), so the ranking is not trivially easy; ordered by docid, so the input order says nothing.
``onnx fp32`` equals torch fp32 within 1e-3 (the plugin's tests); add ``"torch fp32"`` to see it.
A precision check on dev: it selects nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rankfw.core import Run, StageContext
from rankfw.data import JsonlCorpus, read_qrels, read_topics
from rankfw.testing import xquad_data

XQUAD = xquad_data()


def candidates(corpus: JsonlCorpus, qrels: dict[str, dict[str, int]], qids: list[str], depth: int) -> Run:
    """Per question: the ``depth`` corpus neighbours of its first relevant docid (itself included)."""
    docids = [d.docid for d in corpus]
    where = {d: i for i, d in enumerate(docids)}
    hits = {}
    for q in qids:
        centre = where[next(iter(qrels[q]))]
        start = max(0, min(centre - depth // 2, len(docids) - depth))
        hits[q] = {d: 0.0 for d in sorted(docids[start : start + depth])}
    return Run.from_scores(hits)


def main() -> None:
    """Rerank with every system in every language; print nDCG@10 and the change against the first system."""
    import ir_measures
    from rankfw_biencoder_distill import BiEncoderReranker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--languages", nargs="+", default=["en", "de", "zh"])
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--systems", nargs="+", default=["onnx fp32", "onnx int8"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    measure = ir_measures.nDCG @ 10
    table: dict[str, dict[str, float]] = {s: {} for s in args.systems}
    seconds: dict[str, float] = dict.fromkeys(args.systems, 0.0)
    with tempfile.TemporaryDirectory(prefix="quality-onnx-") as scratch:
        tmp = Path(scratch)
        ctx = StageContext("quality", None, tmp, tmp / "cache")
        components = {}
        for system in args.systems:
            backend, precision = system.split()
            components[system] = BiEncoderReranker(BiEncoderReranker.Config(
                model=args.model, device="cpu", cache_embeddings=False, backend=backend, precision=precision))
        for lang in args.languages:
            corpus = JsonlCorpus(XQUAD / lang / "corpus.jsonl", tmp / "cache")
            topics = read_topics(XQUAD / lang / "topics.dev.tsv")
            qrels = read_qrels(XQUAD / lang / "qrels.dev.txt")
            qids = [q for q in topics if q in qrels][: args.questions]
            run = candidates(corpus, qrels, qids, args.depth)
            judged = {q: qrels[q] for q in qids}
            for system, component in components.items():
                started = time.perf_counter()
                out = component.rerank({q: topics[q] for q in qids}, run, corpus, ctx)
                seconds[system] += time.perf_counter() - started
                table[system][lang] = float(ir_measures.calc_aggregate([measure], judged, out.scores())[measure])
            print(lang, {s: round(table[s][lang], 4) for s in args.systems}, flush=True)
    first = args.systems[0]
    print(f"{'system':<12}" + "".join(f"{lang:>8}" for lang in args.languages) + f"{'mean':>8}{'change':>8}{'s':>7}")
    mean0 = sum(table[first].values()) / len(args.languages)
    for system in args.systems:
        mean = sum(table[system].values()) / len(args.languages)
        print(f"{system:<12}" + "".join(f"{table[system][lang]:>8.4f}" for lang in args.languages)
              + f"{mean:>8.4f}{mean - mean0:>+8.4f}{seconds[system]:>7.0f}")
    if args.json:
        args.json.write_text(json.dumps({"ndcg10": table, "seconds": seconds, "questions": args.questions}, indent=2))


if __name__ == "__main__":
    main()
