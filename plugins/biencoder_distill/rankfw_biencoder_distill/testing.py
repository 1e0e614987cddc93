"""Test helpers: tiny models trained on shipped text, XQuAD loading, a silent context, nDCG@10.

Used by this plugin's tests and benchmarks; importing it loads nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from rankfw.core import JsonlCorpus, StageContext, read_qrels, read_topics
from rankfw.testing import make_context, xquad_data

XQUAD = xquad_data()
"""The shared XQuAD-R data beside the repository (``<repo>/../shared/data/xquad``)."""


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 64-dim BERT with a WordPiece tokenizer trained on XQuAD text (en+de), saved as a
    sentence-transformers folder (Transformer -> mean Pooling -> Normalize): see
    :func:`rankfw.testing.tiny_models.tiny_sentence_transformer`."""
    from rankfw.testing.tiny_models import tiny_sentence_transformer

    return tiny_sentence_transformer(folder, seed)


def xquad(lang: str, cache: Path, root: Path = XQUAD) -> tuple[JsonlCorpus, dict[str, str], dict[str, dict[str, int]]]:
    """One language's corpus, dev topics and dev qrels."""
    root = root / lang
    return JsonlCorpus(root / "corpus.jsonl", cache), read_topics(root / "topics.dev.tsv"), read_qrels(root / "qrels.dev.txt")


def context(tmp: Path, language: str | None = "en", stage: str = "test") -> StageContext:
    """A silent StageContext with its folders under ``tmp`` (:func:`rankfw.testing.make_context`)."""
    return make_context(tmp, language, stage)


def ndcg10(run: object, qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 of a Run (every query of ``qrels`` counted)."""
    import ir_measures

    return float(ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run.scores())[ir_measures.nDCG @ 10])  # type: ignore[attr-defined]
