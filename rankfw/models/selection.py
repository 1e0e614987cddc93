"""Checkpoint selection on held-out training questions, shared by the trainers that support it.

A trainer with ``select_on: heldout`` evaluates its model at the start (the model it starts from),
every ``select_every`` optimizer steps (or after every epoch) and at the end, by re-ranking each
held-out question's judged passages (its positives, judged 1, and negatives, judged 0: the
examples of :attr:`TrainingInput.selection_examples`), keeps the weights of the checkpoint with
the best ``select_measure`` (mean over languages; the earliest wins a tie) and writes
``selection.json`` beside the model. The evaluation questions are never used.

``interpolate`` (WiSE-FT, Wortsman et al., CVPR 2022) blends the kept weights back toward the
model training started from, ``theta = (1 - a) * theta_start + a * theta_tuned``: with
``select_on: heldout`` every ``a`` listed is evaluated like a checkpoint (recorded with its
``interpolate`` value) and the best of all is kept; without it the one ``a`` given is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

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

    interpolate: list[float] = Field(
        [1.0], min_length=1,
        description="WiSE-FT: blend the tuned weights toward the start model, (1-a)*start + a*tuned, for each a "
                    "in (0, 1]; select_on: heldout keeps the a the held-out questions prefer (1.0 = no blending)",
    )

    @field_validator("interpolate")
    @classmethod
    def _coefficients(cls, value: list[float]) -> list[float]:
        if any(not 0 < a <= 1 for a in value):
            raise ValueError(f"interpolate coefficients must be in (0, 1], got {value}")
        return sorted(set(value))

    @model_validator(mode="after")
    def _one_coefficient_without_selection(self) -> SelectionParams:
        if self.select_on == "none" and len(self.interpolate) > 1:
            raise ValueError("several interpolate coefficients need select_on: heldout to choose between them")
        return self

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

    def evaluate(self, score: Scorer, step: int, epoch: float, **extra: Any) -> bool:
        """Score the held-out questions with ``score``; record the checkpoint (with ``extra``, e.g. its
        ``interpolate`` coefficient); whether it is the best yet."""
        from rankfw.run.evaluate import evaluate

        languages: dict[str, float] = {}
        for lang, (qids, queries, passages, qrels) in self.data.items():
            scores = score(queries, passages)
            run = Run.from_scores({q: {d.docid: float(s) for d, s in zip(docs, row)} for q, docs, row in zip(qids, passages, scores)})
            languages[lang] = round(evaluate(run, qrels, [self.measure])[self.measure], 6)
        value = round(sum(languages.values()) / len(languages), 6)
        self.checkpoints.append({"step": step, "epoch": round(epoch, 3), **extra, "value": value, "languages": languages})
        if self.best is None or value > self.checkpoints[self.best]["value"]:
            self.best = len(self.checkpoints) - 1
            return True
        return False

    def keep(self, model: Any) -> None:
        """Remember ``model``'s trainable weights (a CPU copy): call when :meth:`evaluate` says best."""
        self.state = trainable_state(model)

    def interpolate(self, model: Any, start: dict[str, Any], coefficients: Sequence[float], score: Scorer, epoch: float) -> None:
        """WiSE-FT on the kept checkpoint: evaluate ``(1-a)*start + a*kept`` for each ``a < 1`` of
        ``coefficients``, keep the best of everything evaluated, and leave it in ``model``.

        Call with ``model`` holding the weights training ended with: when the start itself is the
        best checkpoint, those are what is blended toward it (a blend can beat both ends).
        """
        final, last = trainable_state(model), self.checkpoints[-1]["step"]
        self.restore(model)
        kept, step = trainable_state(model), self.winner["step"]
        if step == 0:
            kept, step = final, last
        if step > 0:  # no training step at all leaves nothing to blend
            for a in (a for a in coefficients if a < 1):
                blend_weights(model, start, kept, a)
                if self.evaluate(score, step, epoch, interpolate=a):
                    self.keep(model)
        self.restore(model)

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


def trainable_state(model: Any) -> dict[str, Any]:
    """A CPU copy of ``model``'s trainable weights (the frozen ones never change)."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def blend_weights(model: Any, start: dict[str, Any], tuned: dict[str, Any], alpha: float) -> None:
    """Set ``model``'s weights named in ``start`` to ``(1 - alpha) * start + alpha * tuned`` (WiSE-FT)."""
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in start:
                param.copy_(((1 - alpha) * start[name] + alpha * tuned[name]).to(param.device, param.dtype))
