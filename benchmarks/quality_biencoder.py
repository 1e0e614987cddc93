"""Quality of the bi-encoder plugin on XQuAD-R dev: BM25 top-k reranked by the zero-shot
``bundled:multilingual-e5-small`` vs the same model after cross-lingual distillation and fine-tuning.

    python benchmarks/quality_biencoder.py [--out runs/quality-biencoder] [--languages de ar ...]

Stages are cached in the output folder (a rerun resumes). Prints a per-language nDCG@10 table.
The defaults are a small budget (a few minutes of training on 2 shared CPU cores: 32 parallel
pairs, 16 ranking queries and 32 training queries per language; 50 dev questions, BM25 top-20);
raise them (e.g. ``--max-pairs 600 --max-queries 354 --max-examples 354 --queries 258 --depth 100``)
on a free machine or a GPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from quality_common import ROOT, XQUAD, context, ensure_bm25_runs, ndcg10, write_bm25_runs

from rankfw.core import Run, TrainingInput
from rankfw.core.io import atomic_write_json
from rankfw.data import JsonlCorpus, read_qrels, read_topics

TARGETS = ["ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def main() -> None:
    """Run the experiment and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality-biencoder")
    parser.add_argument("--languages", nargs="+", default=TARGETS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-pairs", type=int, default=32, help="parallel pairs per language (distillation)")
    parser.add_argument("--max-queries", type=int, default=16, help="ranking queries per language (distillation)")
    parser.add_argument("--max-examples", type=int, default=32, help="training queries per language (fine-tuning)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5, help="learning rate of both trainers")
    parser.add_argument("--queries", type=int, default=50, help="dev questions per language (first N)")
    parser.add_argument("--depth", type=int, default=20, help="BM25 hits reranked")
    parser.add_argument("--bm25-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.bm25_only:
        import torch

        torch.set_num_threads(args.threads)
        from rankfw_biencoder_distill import BiEncoderReranker, DistillTrainer, FinetuneTrainer

    out: Path = args.out
    langs: list[str] = args.languages
    cache = out / "cache"
    data = {}
    for lang in ["en", *langs]:
        root = XQUAD / lang
        data[lang] = (JsonlCorpus(root / "corpus.jsonl", cache), read_topics(root / "topics.dev.tsv"), read_qrels(root / "qrels.dev.txt"))

    # 1. BM25 top-100 on dev, in a child process (a JVM and torch in one process do not mix well).
    if args.bm25_only:
        write_bm25_runs(out, langs, data)
        return
    ensure_bm25_runs(__file__, out, langs)
    bm25_runs = {}
    for lang in langs:
        run = Run.read_trec(out / "bm25" / f"{lang}.trec").top(args.depth)
        corpus, topics, qrels = data[lang]
        keep = list(topics)[: args.queries]
        data[lang] = (corpus, {q: topics[q] for q in keep}, {q: qrels[q] for q in keep if q in qrels})
        bm25_runs[lang] = Run.from_ranked({q: run[q] for q in keep if q in run})

    # 2. Distil (student = teacher's frozen copy), then fine-tune on all languages' training data.
    started = time.time()
    inputs = [
        TrainingInput(lang, data[lang][0], training=str(XQUAD / lang / "train.jsonl.gz"),
                      parallel=None if lang == "en" else str(XQUAD / "parallel" / f"en-{lang}.tsv"))
        for lang in ["en", *langs]
    ]
    common = {"epochs": 1, "batch_size": 32, "max_length": args.max_length, "freeze_embeddings": True, "device": "cpu"}
    distilled = out / "models" / "distill"
    if not distilled.exists():
        tmp = out / "models" / ".distill.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        DistillTrainer(DistillTrainer.Config(max_pairs=args.max_pairs, max_queries=args.max_queries, lr=args.lr, **common)).train(inputs, tmp, context(out, "distill", None))
        tmp.rename(distilled)
    t_distill = time.time() - started
    finetuned = out / "models" / "finetune"
    if not finetuned.exists():
        tmp = out / "models" / ".finetune.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        FinetuneTrainer(FinetuneTrainer.Config(model=str(distilled), lr=args.lr, hard_negatives=1, max_examples=args.max_examples, **common)).train(inputs, tmp, context(out, "finetune", None))
        tmp.rename(finetuned)
    t_train = time.time() - started

    # 3. Rerank BM25's top-100 with each model.
    models = {"zero-shot e5": "bundled:multilingual-e5-small", "distilled+ft": str(finetuned)}
    table: dict[str, dict[str, float]] = {"BM25": {}}
    for lang in langs:
        table["BM25"][lang] = ndcg10(bm25_runs[lang], data[lang][2])
    for name, ref in models.items():
        reranker = BiEncoderReranker(BiEncoderReranker.Config(model=ref, max_length=128, device="cpu"))
        table[name] = {}
        for lang in langs:
            corpus, topics, qrels = data[lang]
            run = reranker.rerank(topics, bm25_runs[lang], corpus, context(out, "rerank", lang))
            table[name][lang] = ndcg10(run, qrels)
            print(f"{name} {lang} {table[name][lang]:.3f}", flush=True)
    for row in table.values():
        row["mean"] = sum(row[lang] for lang in langs) / len(langs)
    atomic_write_json(out / "quality.json", {"ndcg@10": table, "train_seconds": {"distill": t_distill, "total": t_train}, "args": {k: str(v) for k, v in vars(args).items()}})
    print(f"\nnDCG@10 on XQuAD-R dev (first {args.queries} questions), BM25 top-{args.depth} reranked (training {t_train / 60:.1f} min, distill {t_distill / 60:.1f} min)")
    print(f"{'system':<16}" + "".join(f"{lang:>7}" for lang in [*langs, "mean"]))
    for name, row in table.items():
        print(f"{name:<16}" + "".join(f"{row[lang]:7.3f}" for lang in [*langs, "mean"]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
