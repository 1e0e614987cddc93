"""Ranking quality of the bi-encoder's ONNX / OpenVINO int8 and bf16 against fp32: nDCG@10 of the
``biencoder`` rerank stage on each language's questions, over 10 hard candidates per question.

    python benchmarks/quality_onnx.py [--model bundled:multilingual-e5-small | PATH] [--languages all | en de zh]
        [--topics heldout | dev] [--questions 80] [--systems "onnx fp32" "onnx int8" "openvino bf16"] [--json out.json]

``--topics heldout`` (the default): training questions of each language's ``train.jsonl.gz`` held out
by examples/xquad.yaml's rule (fold 0 of 5, whole articles), i.e. the questions a model trained by that
spec's fold 0 did not see, judged by their positives; ``dev``: topics.dev.tsv, a test set (report only,
never tune on it).

Candidates: the relevant sentence and its neighbours in the corpus (same paragraph, then the same
article), so the ranking is not trivially easy; ordered by docid, so the input order says nothing.
``onnx fp32`` equals torch fp32 within 1e-3 (the plugin's tests); add ``"torch fp32"`` to see it.
A precision check: it selects nothing.
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


HOLDOUT = {"group_by": r"docid:^(xq-\d+)-", "folds": 5, "fold": 0}
"""examples/xquad.yaml's held-out rule (its ``dataset.holdout_*``)."""


def questions(lang: str, which: str, cache: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Topics and qrels of ``lang``: the held-out training questions, or the dev set."""
    if which == "dev":
        return read_topics(XQUAD / lang / "topics.dev.tsv"), read_qrels(XQUAD / lang / "qrels.dev.txt")
    from rankfw.data.holdout import HoldoutRule
    from rankfw.data.language import LanguageData

    sources = {"corpus": str(XQUAD / lang / "corpus.jsonl"), "train": str(XQUAD / lang / "train.jsonl.gz")}
    rule = HoldoutRule(0.0, HOLDOUT["group_by"], HOLDOUT["folds"], HOLDOUT["fold"])
    topics, qrels = LanguageData(lang, {**dict.fromkeys(("topics", "qrels", "parallel")), **sources}, 0.0, cache,
                                 rule=rule).topic_set("heldout")
    return topics, {q: {d: r for d, r in judged.items() if r > 0} for q, judged in qrels.items()}


def main() -> None:
    """Rerank with every system in every language; print nDCG@10 and the change against the first system."""
    import ir_measures
    from rankfw_biencoder_distill import BiEncoderReranker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--languages", nargs="+", default=["all"], help="languages, or all (every XQuAD-R one)")
    parser.add_argument("--topics", choices=["heldout", "dev"], default="heldout")
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--systems", nargs="+", default=["onnx fp32", "onnx int8"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.languages == ["all"]:
        args.languages = sorted(p.name for p in XQUAD.iterdir() if (p / "corpus.jsonl").exists())
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
            topics, qrels = questions(lang, args.topics, tmp / "cache")
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
        args.json.write_text(json.dumps({"ndcg10": table, "seconds": seconds, "questions": args.questions,
                                              "topics": args.topics, "model": args.model}, indent=2))


if __name__ == "__main__":
    main()
