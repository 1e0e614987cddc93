"""nDCG@10 and throughput of the ``crossencoder`` reranker at each precision, on the candidates a
``rankfw run`` output folder already has (the same pairs for every precision).

    python benchmarks/precision_crossencoder.py runs/xquad [--model-stage ft_ce] [--input-stage dense]
        [--languages en de zh] [--k 10] [--precisions fp32 int8] [--threads 2]

The model is the train stage ``--model-stage``'s output, the candidates the top ``--k`` of the stage
``--input-stage``'s run of each language, the topics and qrels the output folder's spec's. Prints a
per-language table (nDCG@10 per precision, change against fp32, pairs/s). The stage's own timing
counts: loading the model (and, for int8, calibrating and quantizing it) happens before the clock.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quality_common import context, ndcg10

from rankfw.core import Run
from rankfw.data import JsonlCorpus, read_qrels, read_topics


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="a rankfw run output folder (with spec.yaml and stages/)")
    parser.add_argument("--model-stage", default="ft_ce")
    parser.add_argument("--input-stage", default="dense")
    parser.add_argument("--languages", nargs="+", default=["en", "de", "zh"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    import yaml
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

    torch.set_num_threads(args.threads)
    dataset = yaml.safe_load((args.output / "spec.yaml").read_text(encoding="utf-8"))["dataset"]
    model = args.output / "stages" / args.model_stage / "model"
    scratch = args.output / "precision-bench"
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for precision in args.precisions:
        reranker = CrossEncoderReranker(CrossEncoderReranker.Config(
            model=str(model), k=args.k, max_length=args.max_length, precision=precision, device="cpu"))
        for lang in args.languages:
            fill = {"root": dataset["root"], "lang": lang}
            corpus = JsonlCorpus(Path(dataset["corpus"].format(**fill)), scratch / "cache")
            topics = read_topics(Path(dataset["topics"].format(**fill)))
            qrels = read_qrels(Path(dataset["qrels"].format(**fill)))
            run = Run.read_trec(args.output / "stages" / args.input_stage / f"{lang}.run").top(args.k)
            ctx = context(scratch, "ce", lang, every=600)
            pairs = sum(len(hits) for hits in run.values())
            reranker.scorer(ctx, _calibration(topics, run, corpus))  # load (and quantize) off the clock
            started = time.perf_counter()
            out = reranker.rerank(topics, run, corpus, ctx)
            seconds = time.perf_counter() - started
            rows.setdefault(lang, {})[precision] = (ndcg10(out, qrels), pairs / seconds)
            print(f"{precision} {lang}: nDCG@10 {rows[lang][precision][0]:.4f}, {pairs / seconds:.1f} pairs/s", flush=True)
    _print_table(rows, args.precisions)


def _calibration(topics: dict[str, str], run: Run, corpus: JsonlCorpus) -> list[tuple[str, str]]:
    """The first 32 pairs in the order the reranker sees them (what it calibrates int8 on)."""
    pairs = [(qid, docid) for qid, hits in run.items() for docid, _ in hits][:32]
    docs = corpus.get_many([d for _, d in pairs])
    return [(topics[q], docs[d].contents) for q, d in pairs]


def _print_table(rows: dict[str, dict[str, tuple[float, float]]], precisions: list[str]) -> None:
    """Markdown: one row per precision, nDCG@10 per language, the mean, its change, pairs/s."""
    langs = list(rows)
    print("| precision | " + " | ".join(langs) + " | mean | change vs fp32 | pairs/s |")
    print("|---" * (len(langs) + 4) + "|")
    base = sum(rows[lang]["fp32"][0] for lang in langs) / len(langs) if "fp32" in precisions else None
    base_speed = sum(rows[lang]["fp32"][1] for lang in langs) / len(langs) if "fp32" in precisions else None
    for precision in precisions:
        mean = sum(rows[lang][precision][0] for lang in langs) / len(langs)
        speed = sum(rows[lang][precision][1] for lang in langs) / len(langs)
        change = f"{mean - base:+.4f}" if base is not None and precision != "fp32" else "-"
        ratio = f" ({speed / base_speed:.2f}x)" if base_speed else ""
        cells = " | ".join(f"{rows[lang][precision][0]:.4f}" for lang in langs)
        print(f"| {precision} | {cells} | {mean:.4f} | {change} | {speed:.1f}{ratio} |")


if __name__ == "__main__":
    main()
