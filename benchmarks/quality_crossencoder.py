"""Quality of the cross-encoder plugin on XQuAD-R dev (11 languages): BM25 top-N reranked by a
cross-encoder made from ``bundled:multilingual-e5-small``, trained by ``translate-train`` (the English
training file translated with the ``parallel-file`` backend into the 10 other languages) and then
``finetune-crossencoder`` (each language's own training file).

    python benchmarks/quality_crossencoder.py [--out runs/quality-crossencoder] [--languages en de ...]

Stages are cached in the output folder (a rerun resumes). Prints a per-language nDCG@10 table and
writes it to ``quality.json``; ``--precisions`` adds bf16 / int8 rows for the first language.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from quality_common import ROOT, XQUAD, context, ensure_bm25_runs, ndcg10, write_bm25_runs

from rankfw.core import Run, TrainingInput
from rankfw.core.io import atomic_write_json
from rankfw.data import JsonlCorpus, read_qrels, read_topics

LANGUAGES = ["en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"]


def train_once(out: Path, name: str, trainer: Any, inputs: list[TrainingInput]) -> tuple[Path, float]:
    """Train into ``out/models/name`` unless it is there; return the folder and the seconds spent."""
    folder = out / "models" / name
    if folder.exists():
        return folder, 0.0
    tmp = out / "models" / f".{name}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    started = time.time()
    trainer.train(inputs, tmp, context(out, name, None))
    tmp.rename(folder)
    return folder, time.time() - started


def main() -> None:
    """Run the experiment and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality-crossencoder")
    parser.add_argument("--languages", nargs="+", default=LANGUAGES)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--depth", type=int, default=20, help="BM25 hits reranked per question")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--tt-examples", type=int, default=150, help="English examples translated (translate-train)")
    parser.add_argument("--ft-examples", type=int, default=120, help="in-language examples per language (fine-tune)")
    parser.add_argument("--freeze-layers", type=int, default=6)
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5, help="translate-train learning rate (fine-tune: 0.6x)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast in training")
    parser.add_argument("--precision", default="fp32", help="inference precision of the table")
    parser.add_argument("--precisions", nargs="*", default=[], help="extra precisions measured on the first language")
    parser.add_argument("--questions", type=int, default=None, help="use the first N dev questions per language")
    parser.add_argument("--tt-row", action="store_true", help="also rerank with the translate-train model alone")
    parser.add_argument("--bm25-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out: Path = args.out
    langs: list[str] = args.languages
    cache = out / "cache"
    data = {}
    for lang in langs:
        root = XQUAD / lang
        topics = dict(list(read_topics(root / "topics.dev.tsv").items())[: args.questions])
        qrels = {q: r for q, r in read_qrels(root / "qrels.dev.txt").items() if q in topics}
        data[lang] = (JsonlCorpus(root / "corpus.jsonl", cache), topics, qrels)

    # 1. BM25 top-100 on dev, in a child process (the JVM stays out of the torch process).
    if args.bm25_only:
        write_bm25_runs(out, langs, data)
        return
    ensure_bm25_runs(__file__, out, langs)
    bm25_runs = {lang: Run({q: h for q, h in Run.read_trec(out / "bm25" / f"{lang}.trec").items() if q in data[lang][1]})
                 for lang in langs}

    import torch

    torch.set_num_threads(args.threads)
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker
    from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer, TranslateTrainTrainer

    # 2. translate-train (English file -> parallel-file translations), then fine-tune in-language.
    inputs = [
        TrainingInput(lang, data[lang][0], training=str(XQUAD / lang / "train.jsonl.gz"),
                      parallel=None if lang == "en" else str(XQUAD / "parallel" / f"en-{lang}.tsv"))
        for lang in langs
    ]
    common: dict[str, Any] = {
        "epochs": 1, "batch_size": 16, "max_length": args.max_length, "freeze_embeddings": True,
        "freeze_layers": args.freeze_layers, "bf16": args.bf16, "num_negatives": args.negatives, "device": "cpu",
    }
    tt_config = TranslateTrainTrainer.Config(model="bundled:multilingual-e5-small", lr=args.lr, max_examples=args.tt_examples, **common)
    tt, t_tt = train_once(out, "translate-train", TranslateTrainTrainer(tt_config), inputs)
    ft_config = FinetuneCrossEncoderTrainer.Config(model=str(tt), lr=0.6 * args.lr, negatives="file", max_examples=args.ft_examples, **common)
    ft, t_ft = train_once(out, "finetune", FinetuneCrossEncoderTrainer(ft_config), inputs)

    # 3. Rerank BM25's top hits with each model.
    table: dict[str, dict[str, float]] = {"BM25": {}}
    for lang in langs:
        table["BM25"][lang] = ndcg10(bm25_runs[lang], data[lang][2])
    seconds: dict[str, float] = {"translate-train": t_tt, "finetune": t_ft}
    rows = [("translate-train", tt, args.precision, langs)] if args.tt_row else []
    rows += [("translate-train + finetune", ft, args.precision, langs)]
    rows += [(f"tt + ft, {p}", ft, p, langs[:1]) for p in args.precisions]
    for name, model, precision, row_langs in rows:
        reranker = CrossEncoderReranker(CrossEncoderReranker.Config(
            model=str(model), k=args.depth, max_length=args.max_length, device="cpu", precision=precision, batch_size=32))
        table[name] = {}
        started = time.time()
        pairs = 0
        for lang in row_langs:
            corpus, topics, qrels = data[lang]
            run = reranker.rerank(topics, bm25_runs[lang], corpus, context(out, "rerank", lang))
            run.write_trec(out / "runs" / f"{name.replace(' ', '_').replace(',', '')}.{lang}.trec")
            pairs += sum(len(h) for h in run.values())
            table[name][lang] = ndcg10(run, qrels)
            print(f"{name} {lang} {table[name][lang]:.3f}", flush=True)
        seconds[f"rerank {name}"] = time.time() - started
        seconds[f"pairs/s {name}"] = pairs / seconds[f"rerank {name}"]
    for row in table.values():
        if all(lang in row for lang in langs):
            row["mean"] = sum(row[lang] for lang in langs) / len(langs)
    atomic_write_json(out / "quality.json", {"ndcg@10": table, "seconds": seconds,
                                             "args": {k: str(v) for k, v in vars(args).items()}})
    print(f"\nnDCG@10 on XQuAD-R dev, BM25 top-{args.depth} reranked; seconds {seconds}")
    print(f"({len(data[langs[0]][1])} questions per language)")
    cols = [*langs, "mean"]
    print(f"{'system':<28}" + "".join(f"{c:>7}" for c in cols))
    for name, row in table.items():
        print(f"{name:<28}" + "".join(f"{row[c]:7.3f}" if c in row else f"{'':>7}" for c in cols))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
