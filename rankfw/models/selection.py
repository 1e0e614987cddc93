"""Checkpoint selection on held-out training questions, shared by the trainers that support it.

A trainer with ``select_on: heldout`` evaluates its model at the start (the model it starts from),
every ``select_every`` optimizer steps (or after every epoch) and at the end, by re-ranking each
held-out question's judged passages (its positives, judged 1, and negatives, judged 0: the
examples of :attr:`TrainingInput.selection_examples`), keeps the weights of the checkpoint with
the best ``select_measure`` (mean over languages; the earliest wins a tie) and writes
``selection.json`` beside the model. The evaluation questions are never used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from rankfw.core.components import ComponentConfig, TrainingInput
from rankfw.core.errors import InputError
from rankfw.core.io import atomic_write_json
from rankfw.core.runs import Run
from rankfw.core.types import Document, Qrels

SELECTION_FILE = "selection.json"

Scorer = Callable[[list[str], list[list[Document]]], list[list[float]]]
"""``score(queries, passages_per_query) -> scores_per_query`` for one language, no gradients."""


class SelectionParams(ComponentConfig):
    """The parameters of a trainer that can select its checkpoint on held-out questions."""

    select_on: Literal["none", "heldout"] = Field(
        "none", description="keep the checkpoint that scores best on the held-out training questions (heldout), or the last (none)"
    )
    select_measure: str = Field("nDCG@10", description="the ir_measures measure checkpoints are compared on")
    select_every: int | None = Field(
        None, gt=0, description="evaluate every N optimizer steps (None: after every epoch); always at the start and the end"
    )

    @field_validator("select_measure")
    @classmethod
    def _measure(cls, value: str) -> str:
        import ir_measures

        try:
            ir_measures.parse_measure(value)
        except Exception:
            raise ValueError(f"unknown measure {value!r} (ir_measures syntax, e.g. nDCG@10, RR@10)") from None
        return value


class Selector:
    """Evaluates checkpoints on held-out questions and remembers the best one's weights."""

    def __init__(self, inputs: Sequence[TrainingInput], params: SelectionParams, stage: str) -> None:
        self.measure = params.select_measure
        self.every = params.select_every
        self.data: dict[str, tuple[list[str], list[str], list[list[Document]], Qrels]] = {}
        for inp in inputs:
            examples = [ex for ex in inp.selection_examples if ex.positives]
            if examples:
                qrels = {ex.query_id: {**{d.docid: 0 for d in ex.negatives}, **{d.docid: 1 for d in ex.positives}} for ex in examples}
                passages = [list({d.docid: d for d in (*ex.positives, *ex.negatives)}.values()) for ex in examples]
                self.data[inp.language] = ([ex.query_id for ex in examples], [ex.query for ex in examples], passages, qrels)
        if not self.data:
            raise InputError(
                "select_on: heldout needs held-out training questions (set dataset.holdout or dataset.holdout_folds)",
                f"stages.{stage}.params.select_on",
            )
        self.checkpoints: list[dict[str, Any]] = []
        self.best: int | None = None
        self.state: dict[str, Any] | None = None

    def evaluate(self, score: Scorer, step: int, epoch: float) -> bool:
        """Score the held-out questions with ``score``; record the checkpoint; whether it is the best yet."""
        from rankfw.run.evaluate import evaluate

        languages: dict[str, float] = {}
        for lang, (qids, queries, passages, qrels) in self.data.items():
            scores = score(queries, passages)
            run = Run.from_scores({q: {d.docid: float(s) for d, s in zip(docs, row)} for q, docs, row in zip(qids, passages, scores)})
            languages[lang] = round(evaluate(run, qrels, [self.measure])[self.measure], 6)
        value = round(sum(languages.values()) / len(languages), 6)
        self.checkpoints.append({"step": step, "epoch": round(epoch, 3), "value": value, "languages": languages})
        if self.best is None or value > self.checkpoints[self.best]["value"]:
            self.best = len(self.checkpoints) - 1
            return True
        return False

    def keep(self, model: Any) -> None:
        """Remember ``model``'s trainable weights (a CPU copy): call when :meth:`evaluate` says best."""
        self.state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}

    def restore(self, model: Any) -> None:
        """Put the best checkpoint's weights back into ``model`` (frozen weights never changed)."""
        import torch

        assert self.state is not None
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in self.state:
                    param.copy_(self.state[name].to(param.device))

    @property
    def winner(self) -> dict[str, Any]:
        assert self.best is not None
        return self.checkpoints[self.best]

    def write(self, output_dir: Path) -> dict[str, Any]:
        """Write ``selection.json``: measure, every checkpoint's values, the winner, the questions."""
        report = {
            "measure": self.measure,
            "select_every": self.every if self.every is not None else "epoch",
            "on": "held-out training questions (dataset.holdout / holdout_folds): each question's judged passages re-ranked",
            "questions": {lang: len(qids) for lang, (qids, *_) in self.data.items()},
            "qids": {lang: qids for lang, (qids, *_) in self.data.items()},
            "checkpoints": self.checkpoints,
            "winner": self.winner,
        }
        atomic_write_json(output_dir / SELECTION_FILE, report)
        return report
