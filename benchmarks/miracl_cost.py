"""What examples/miracl.yaml costs per stage, on paper: one GPU, and N GPUs with the Ray executor.

    python benchmarks/miracl_cost.py [--gpus 8] [--gpu-tflops 100] [--generate-tflops 10]

Work per stage from MIRACL's own counts (ir_datasets metadata: passages, dev / train questions,
judged passages; no download) and the spec's parameters (k=100, depth 100, hard negatives 3,
holdout 0.1, one epoch, NLLB beams 4), in transformer FLOPs: 2 x non-embedding weights per token
(plus the vocabulary projection for generated tokens), training = 3 x a forward pass. The CPU
column divides by the effective rate measured here (the bi-encoder and cross-encoder rows of
benchmarks/results.json: bundled multilingual-e5-small on XQuAD-R en, tokens counted with its
tokenizer); the GPU columns divide by an assumed effective rate (``--gpu-tflops``: bf16 on an
A100-class GPU at about a third of its 312 TFLOP/s peak; ``--generate-tflops`` for beam-search
decoding, which is memory-bound). Under Ray the rerank stages are sharded by query over N GPU
workers; train stages (translation included: it runs inside translate-train) and fusion run in
the driver, on one GPU. BM25 runs on CPUs either way (pyserini's prebuilt indexes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).parent
LANGS = ["ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh"]
TRAINED = [lang for lang in LANGS if lang not in ("de", "yo")]


def encoder_params(layers: int, hidden: int, ffn: int) -> float:
    """Non-embedding weights of a transformer encoder (attention 4 h^2 + feed-forward 2 h f per layer)."""
    return layers * (4 * hidden * hidden + 2 * hidden * ffn)


E5_SMALL = encoder_params(12, 384, 1536)  # the model measured here
E5_BASE = encoder_params(12, 768, 3072)  # intfloat/multilingual-e5-base and the teacher e5-base-v2
XLMR_LARGE = encoder_params(24, 1024, 4096)  # xlm-roberta-large
NLLB_ENC = encoder_params(12, 1024, 4096)  # nllb-200-distilled-600M: 12 + 12 layers, d 1024
NLLB_DEC = NLLB_ENC + 12 * 4 * 1024 * 1024 + 1024 * 256_206  # + cross-attention + the vocabulary projection
PASSAGE, QUERY, PAIR = 130, 15, 145
"""Assumed MIRACL tokens per passage (Wikipedia paragraphs), per question, per question+passage pair."""


def miracl_counts() -> dict[str, dict[str, int]]:
    """Per language: passages, dev questions, train questions, judged train passages (ir_datasets metadata)."""
    import ir_datasets

    out = {}
    for lang in LANGS:
        row = {"docs": ir_datasets.load(f"miracl/{lang}").docs_count(), "dev": ir_datasets.load(f"miracl/{lang}/dev").queries_count()}
        if lang in TRAINED:
            train = ir_datasets.load(f"miracl/{lang}/train")
            row |= {"train": train.queries_count(), "judged": train.qrels_count()}
        out[lang] = row
    return out


def cpu_rate() -> float:
    """Effective FLOP/s of e5-small measured here (bi-encoder and cross-encoder rows of results.json)."""
    rows = json.loads((HERE / "results.json").read_text())["rows"]
    bi = max((r for r in rows if r["component"] == "biencoder"), key=lambda r: r["size"])
    ce = max((r for r in rows if r["component"] == "crossencoder"), key=lambda r: r["size"])
    bi_flops = 2 * E5_SMALL * (bi["distinct_passages"] * 41 + bi["size"] * 19)  # XQuAD-R en: 41 / 19 tokens (e5 tokenizer)
    ce_flops = 2 * E5_SMALL * ce["pairs"] * 55
    return (bi_flops / bi["rankfw_s"] + ce_flops / ce["rankfw_s"]) / 2


def stages(c: dict[str, dict[str, int]]) -> list[tuple[str, str, float, str]]:
    """``(stage, work, FLOPs, where)`` of every neural stage of examples/miracl.yaml."""
    dev = sum(r["dev"] for r in c.values())
    train = sum(c[lang]["train"] for lang in TRAINED)
    held = sum(round(0.1 * c[lang]["train"]) for lang in TRAINED)
    fit = train - held
    en_q, en_j = c["en"]["train"] - round(0.1 * c["en"]["train"]), c["en"]["judged"]
    targets = len(TRAINED) - 1
    gen_tokens = targets * (en_q * QUERY + en_j * PASSAGE)
    translate = gen_tokens * (2 * NLLB_ENC + 4 * 2 * NLLB_DEC)  # encoder once, 4 beams through the decoder
    fwd_bwd = 6
    return [
        ("tt: NLLB translation", (f"{en_q:,} en questions + {en_j:,} judged passages into {targets} languages "
                                  f"({gen_tokens / 1e6:.0f}M tokens)"), translate, "generate"),
        ("tt: cross-encoder training", f"{en_q * (targets + 1):,} groups x 4 pairs x 160 tokens",
         fwd_bwd * XLMR_LARGE * en_q * (targets + 1) * 4 * 160, "train"),
        ("distill", f"{targets} x {en_q + en_j:,} translated pairs (2 sides) + {targets} x {en_q:,} x 8 ranking",
         targets * ((en_q + en_j) * (fwd_bwd * 2 + 2) * E5_BASE * PASSAGE + en_q * 9 * fwd_bwd * E5_BASE * PASSAGE), "train"),
        ("ft_bi", f"{fit:,} questions x (question + 1 + 3 passages)",
         fit * fwd_bwd * E5_BASE * (QUERY + 4 * PASSAGE), "train"),
        ("ft_ce", f"{fit:,} groups x 4 pairs x 160 tokens", fit * 4 * 160 * fwd_bwd * XLMR_LARGE, "train"),
        ("bi + bi_ho", f"{dev + held:,} questions x 100 passages (at most)",
         (dev + held) * (100 * PASSAGE + QUERY) * 2 * E5_BASE, "rerank"),
        ("ce + ce_ho", f"{dev + held:,} questions x 100 pairs", (dev + held) * 100 * PAIR * 2 * XLMR_LARGE, "rerank"),
    ]


def prebuilt_gb() -> float:
    """The compressed size of pyserini's 18 ``miracl-v1.0-<lang>`` indexes (its own index table)."""
    from rankfw_bm25 import jvm

    jvm.start_jvm()
    from pyserini.prebuilt_index_info import TF_INDEX_INFO

    return sum(TF_INDEX_INFO[f"miracl-v1.0-{lang}"]["size compressed (bytes)"] for lang in LANGS) / 1e9


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds / 60:.0f} min"


def table(args: argparse.Namespace) -> str:
    counts = miracl_counts()
    cpu = cpu_rate()
    gpu, gen = args.gpu_tflops * 1e12, args.generate_tflops * 1e12
    lines = [f"| stage | work | PFLOP | this 2-core CPU | 1 GPU | {args.gpus} GPUs (Ray) |", "|---|---|---:|---:|---:|---:|"]
    one_total = n_total = 0.0
    for name, work, flops, kind in stages(counts):
        rate = gen if kind == "generate" else gpu
        one = flops / rate
        n = one / args.gpus if kind == "rerank" else one
        one_total, n_total = one_total + one, n_total + n
        lines.append(f"| {name} | {work} | {flops / 1e15:.1f} | {flops / cpu / 86400:,.1f} days | {hours(one)} | {hours(n)} |")
    lines.append(f"| **total (neural stages)** | | | | **{hours(one_total)}** | **{hours(n_total)}** |")
    passages = sum(r["docs"] for r in counts.values())
    return "\n".join(lines) + f"\n\nDownloads: {prebuilt_gb():.0f} GB of pyserini prebuilt indexes (compressed)." + (
        f"\n\nCorpus: {passages:,} passages in 18 languages; {sum(r['dev'] for r in counts.values()):,} dev questions; "
        f"CPU rate measured here: {cpu / 1e9:.0f} GFLOP/s (e5-small, 2 cores); assumed GPU: {args.gpu_tflops:g} TFLOP/s "
        f"(encoders, bf16), {args.generate_tflops:g} TFLOP/s (beam search).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--gpu-tflops", type=float, default=100.0)
    parser.add_argument("--generate-tflops", type=float, default=10.0)
    print(table(parser.parse_args()))


if __name__ == "__main__":
    main()
