"""nDCG@10 and throughput of the ``crossencoder`` reranker on each backend and precision, on the
candidates a ``rankfw run`` output folder already has (the same pairs for every system).

    python benchmarks/precision_crossencoder.py runs/xquad [--model-stage ft_ce] [--topics heldout | dev]
        [--input-stage dense_ho] [--languages all | en de zh] [--k 10]
        [--systems "torch fp32" "torch int8" "onnx int8" "openvino bf16" "openvino int8"] [--threads 2]

The model is the train stage ``--model-stage``'s output, the candidates the top ``--k`` of the stage
``--input-stage``'s run of each language (default ``dense_ho`` on the held-out training questions,
``dense`` on dev), the topics and qrels the output folder's spec's (``--topics heldout``: the
questions its trainers never saw; dev is the test set: report only). Prints a per-language table
(nDCG@10 per system, change against the first system, pairs/s). The stage's own timing counts:
loading the model (and, for int8, calibrating and quantizing it) happens before the clock.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quality_common import context, ndcg10

from rankfw.core import Corpus, Run


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="a rankfw run output folder (with spec.yaml and stages/)")
    parser.add_argument("--model-stage", default="ft_ce")
    parser.add_argument("--topics", choices=["heldout", "dev"], default="heldout")
    parser.add_argument("--input-stage", help="candidates (default dense_ho, or dense with --topics dev)")
    parser.add_argument("--languages", nargs="+", default=["all"], help="languages, or all (the spec's)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--systems", nargs="+", default=["torch fp32", "openvino bf16", "openvino int8"],
                        help="'BACKEND PRECISION' each; the first is the reference")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

    from rankfw.data.language import LanguageData
    from rankfw.run.systems import folder_dataset

    torch.set_num_threads(args.threads)
    dataset = folder_dataset(args.output, "not found or not a spec: give the output folder of a finished run")
    languages = dataset.languages if args.languages == ["all"] else args.languages
    stage = args.input_stage or ("dense_ho" if args.topics == "heldout" else "dense")
    model = args.output / "stages" / args.model_stage / "model"
    scratch = args.output / "precision-bench"
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for system in args.systems:
        backend, precision = system.split()
        reranker = CrossEncoderReranker(CrossEncoderReranker.Config(
            model=str(model), k=args.k, max_length=args.max_length, precision=precision, backend=backend,
            device="cpu", num_threads=args.threads))
        for lang in languages:
            language = LanguageData.from_spec(dataset, lang, scratch / "cache")
            topics, qrels = language.topic_set("heldout" if args.topics == "heldout" else "eval")
            run = Run.read_trec(args.output / "stages" / stage / f"{lang}.run").top(args.k)
            ctx = context(scratch, "ce", lang, every=600)
            pairs = sum(len(hits) for hits in run.values())
            reranker.scorer(ctx, _calibration(topics, run, language.corpus))  # load (and quantize) off the clock
            started = time.perf_counter()
            out = reranker.rerank(topics, run, language.corpus, ctx)
            seconds = time.perf_counter() - started
            rows.setdefault(lang, {})[system] = (ndcg10(out, qrels), pairs / seconds)
            print(f"{system} {lang}: nDCG@10 {rows[lang][system][0]:.4f}, {pairs / seconds:.1f} pairs/s", flush=True)
    _print_table(rows, args.systems)


def _calibration(topics: dict[str, str], run: Run, corpus: Corpus) -> list[tuple[str, str]]:
    """The first 32 pairs in the order the reranker sees them (what it calibrates int8 on)."""
    pairs = [(qid, docid) for qid, hits in run.items() for docid, _ in hits][:32]
    docs = corpus.get_many([d for _, d in pairs])
    return [(topics[q], docs[d].contents) for q, d in pairs]


def _print_table(rows: dict[str, dict[str, tuple[float, float]]], systems: list[str]) -> None:
    """Markdown: one row per system, nDCG@10 per language, the mean, its change against the first
    system, pairs/s."""
    langs = list(rows)

    def mean(system: str, i: int) -> float:
        return sum(rows[lang][system][i] for lang in langs) / len(langs)

    print("| system | " + " | ".join(langs) + f" | mean | change vs {systems[0]} | pairs/s |")
    print("|---" * (len(langs) + 4) + "|")
    for system in systems:
        change = f"{mean(system, 0) - mean(systems[0], 0):+.4f}" if system != systems[0] else "-"
        cells = " | ".join(f"{rows[lang][system][0]:.4f}" for lang in langs)
        speed = mean(system, 1)
        print(f"| {system} | {cells} | {mean(system, 0):.4f} | {change} | {speed:.1f} ({speed / mean(systems[0], 1):.2f}x) |")


if __name__ == "__main__":
    main()
