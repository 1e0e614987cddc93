"""rankfw plugin: the ``crossencoder`` reranker and the ``translate-train`` and
``finetune-crossencoder`` trainers. Light to import: torch and transformers load on first use."""

from __future__ import annotations

from collections.abc import Callable

from rankfw.core import Reranker, Trainer, hookimpl

__version__ = "0.3.0"


@hookimpl
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    """Register the ``crossencoder`` reranker."""
    from rankfw_crossencoder_nmt.reranker import CrossEncoderReranker

    register("crossencoder", CrossEncoderReranker)


@hookimpl
def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
    """Register ``translate-train`` and ``finetune-crossencoder``."""
    from rankfw_crossencoder_nmt.trainers import FinetuneCrossEncoderTrainer, TranslateTrainTrainer

    register("translate-train", TranslateTrainTrainer)
    register("finetune-crossencoder", FinetuneCrossEncoderTrainer)
