"""rankfw-biencoder-distill: bi-encoder reranker, dense retriever, distillation and fine-tuning.

This module is the plugin's entry point and stays light: torch, transformers,
sentence-transformers and faiss are imported only when a component runs.
"""

from __future__ import annotations

from collections.abc import Callable

from rankfw.core import Reranker, Retriever, Trainer, hookimpl
from rankfw_biencoder_distill.distill import DistillTrainer
from rankfw_biencoder_distill.finetune import FinetuneTrainer
from rankfw_biencoder_distill.reranker import BiEncoderReranker
from rankfw_biencoder_distill.retriever import DenseRetriever

__version__ = "0.2.0"
__all__ = ["BiEncoderReranker", "DenseRetriever", "DistillTrainer", "FinetuneTrainer"]


@hookimpl
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    """Register the ``biencoder`` reranker."""
    register("biencoder", BiEncoderReranker)


@hookimpl
def register_retrievers(register: Callable[[str, type[Retriever]], None]) -> None:
    """Register the ``dense`` retriever."""
    register("dense", DenseRetriever)


@hookimpl
def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
    """Register the ``distill`` and ``finetune-biencoder`` trainers."""
    register("distill", DistillTrainer)
    register("finetune-biencoder", FinetuneTrainer)
