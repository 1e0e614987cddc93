"""The ``crossencoder`` reranker: re-scores the top ``depth`` of its input run with a cross-encoder."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, model_validator

from rankfw.core import ComponentConfig, Corpus, Reranker, Run, StageContext, Topics
from rankfw.models import ModelRef, pick_device, resolve_model
from rankfw.models.onnx_runtime import Backend
from rankfw_crossencoder_nmt.scoring import PairScorer, Precision, calibration_pairs, load_cross_encoder


class CrossEncoderConfig(ComponentConfig):
    """Parameters of the ``crossencoder`` reranker."""

    model: ModelRef = Field(
        "cross-encoder/mmarco-mMiniLMv2-L12-H384-v1",
        description="hub id, local folder, bundled:NAME or a train stage's output (stage:NAME)",
    )
    depth: int | None = Field(None, gt=0, description="top hits of the input run re-scored per query (default: k, else 100)")
    k: int | None = Field(None, gt=0, description="hits kept per query (default: all re-scored)")
    max_length: int = Field(256, gt=8, description="tokens per query/passage pair (the passage is truncated)")
    batch_size: int = Field(32, gt=0, description="pairs per forward pass")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    precision: Precision = Field(
        "fp32", description="fp32, bf16 (torch: weights; openvino: inference) or int8 (CPU; torch: dynamic, onnx/openvino: static, "
        "calibrated on the corpus)"
    )
    int8_outlier_ratio: float = Field(
        100.0, gt=0, description="int8: a linear layer whose input peaks above this many times its RMS stays fp32",
    )
    num_threads: int | None = Field(None, gt=0, description="CPU threads (default: torch's / ONNX Runtime's choice)")
    backend: Backend = Field(
        "torch", description="torch, onnx (ONNX Runtime on the CPU; exported once per model into the cache) or "
        "openvino (the same export in OpenVINO; bf16 there is its bf16 inference on AMX / avx512_bf16 CPUs)"
    )

    @model_validator(mode="after")
    def _onnx_precision(self) -> CrossEncoderConfig:
        if self.backend == "onnx" and self.precision == "bf16":
            raise ValueError("backend onnx runs precision fp32 or int8, not bf16 (backend openvino runs bf16)")
        if self.backend != "torch" and self.device not in ("auto", "cpu"):
            raise ValueError(f"backend {self.backend} runs on the CPU, not device {self.device!r}")
        return self


class CrossEncoderReranker(Reranker[CrossEncoderConfig]):
    """Re-ranks candidates by a cross-encoder's score of each (query, passage) pair."""

    Config = CrossEncoderConfig
    description = "Cross-encoder reranker (HF sequence classification; torch fp32/bf16/int8, ONNX Runtime fp32/int8 or OpenVINO fp32/bf16/int8)"
    citation = (
        "Nogueira and Cho. Passage Re-ranking with BERT. arXiv:1901.04085, 2019. "
        "Bonifacio et al. mMARCO: A Multilingual Version of the MS MARCO Passage Ranking Dataset. arXiv:2108.13897, 2021."
    )
    def __init__(self, config: CrossEncoderConfig | None = None) -> None:
        super().__init__(config)
        self._scorer: PairScorer | None = None

    def scorer(self, ctx: StageContext | None = None, calibration: list[tuple[str, str]] | None = None) -> PairScorer:
        """The loaded model (loaded once per component, on first use); int8 calibrates on ``calibration``
        (the rerank path passes :func:`calibration_pairs` of the corpus)."""
        if self._scorer is None:
            cfg = self.config
            if cfg.num_threads is not None:
                import torch

                torch.set_num_threads(cfg.num_threads)
            path = resolve_model(cfg.model, ctx.cache_dir if ctx is not None else None)
            if cfg.backend != "torch":
                return self._onnx_scorer(path, ctx, calibration)
            model, tokenizer = load_cross_encoder(
                path, pick_device(cfg.device), cfg.precision, calibration, cfg.int8_outlier_ratio
            )
            self._scorer = PairScorer(model, tokenizer, cfg.max_length, cfg.batch_size)
        return self._scorer

    def _onnx_scorer(self, path: str, ctx: StageContext | None, calibration: list[tuple[str, str]] | None) -> PairScorer:
        import tempfile
        from pathlib import Path

        from rankfw.models import model_identity

        cfg = self.config
        cache = ctx.cache_dir if ctx is not None else Path(tempfile.gettempdir()) / "rankfw-onnx"
        self._scorer = shared_onnx_scorer(
            path, model_identity(path, cache), str(cache), cfg.precision, tuple(calibration) if calibration else None,
            cfg.int8_outlier_ratio, cfg.max_length, cfg.batch_size, cfg.num_threads, cfg.backend,
        )
        return self._scorer

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Score the top ``depth`` candidates of every query of ``run``, rank them, keep ``k``."""
        candidates = run.top(self.config.depth or self.config.k or 100)
        queries: list[str] = []
        docids: list[str] = []
        owners: list[str] = []
        for qid, hits in candidates.items():
            for docid, _ in hits:
                owners.append(qid)
                queries.append(topics[qid])
                docids.append(docid)
        documents = corpus.get_many(docids)
        passages = [documents[d].contents for d in docids]
        scorer = self.scorer(ctx, calibration_pairs(corpus) if self.config.precision == "int8" else None)
        with ctx.progress(f"{ctx.stage} [{ctx.language}] cross-encoder", len(passages)) as bar:
            values = scorer.score(queries, passages, bar)
        scores: dict[str, dict[str, float]] = {qid: {} for qid in candidates}
        for qid, docid, value in zip(owners, docids, values, strict=True):
            scores[qid][docid] = float(value)
        return Run.from_scores(scores, k=self.config.k)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_scorer"] = None  # executors may ship the component; the model reloads there
        return state


@lru_cache(maxsize=2)
def shared_onnx_scorer(path: str, identity: str, cache: str, precision: str, calibration: tuple[tuple[str, str], ...] | None,
                       outlier_ratio: float, max_length: int, batch_size: int, threads: int | None,
                       backend: str) -> PairScorer:
    """The ONNX Runtime / OpenVINO scorer of these settings, loaded and compiled once per process: a
    stage's languages (and its ``_ho`` twin) share it, where each component loaded the model and
    compiled it again (4-5 s a language here). ``identity`` (the model's content digest) keys a
    retrained model apart; int8 scorers differ by their calibration pairs (a language's corpus)."""
    from pathlib import Path

    from rankfw_crossencoder_nmt.onnx_scoring import load_onnx_scorer

    return load_onnx_scorer(path, Path(cache), precision, list(calibration) if calibration else None,  # type: ignore[arg-type]
                            outlier_ratio, max_length, batch_size, threads, backend)
