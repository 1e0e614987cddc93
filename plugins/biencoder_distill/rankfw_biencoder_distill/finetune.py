"""The ``finetune-biencoder`` trainer: contrastive fine-tuning on MIRACL-train-format data."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, field_validator

from rankfw.core import (
    Document,
    HoldoutRule,
    InputError,
    StageContext,
    Trainer,
    TrainingInput,
    check_group_by,
)
from rankfw.models import SelectionParams, Selector, blend_weights, trainable_state
from rankfw_biencoder_distill.training import TrainConfig

CITATION = (
    "Karpukhin et al. Dense Passage Retrieval for Open-Domain Question Answering. EMNLP 2020. "
    "Zhang et al. MIRACL: A Multilingual Retrieval Dataset Covering 18 Diverse Languages. TACL 2023."
)


class FinetuneConfig(TrainConfig, SelectionParams):
    """Optimisation parameters, where the hard negatives come from, and checkpoint selection."""

    hard_negatives: int = Field(1, ge=0, description="hard negatives per query (0: in-batch negatives only)")
    negatives_from: Literal["training", "run", "both"] = Field(
        "training", description="the training file's negatives, the input stage's run, or both"
    )
    depth: int = Field(30, gt=0, description="run negatives are drawn from this many top hits (old key: negative_depth)",
                       validation_alias=AliasChoices("depth", "negative_depth"))
    max_examples: int | None = Field(None, gt=0, description="at most this many training queries per language")
    batch_group_by: str | None = Field(
        None, description="batches of whole groups (topic-aware sampling): query, title or docid:REGEX, as holdout_group_by; None = random batches"
    )

    @field_validator("batch_group_by")
    @classmethod
    def _group_by(cls, value: str | None) -> str | None:
        return None if value is None else check_group_by(value, "batch_group_by")


@dataclass
class Example:
    """A training query: its text, its positives, and the pool its hard negatives are drawn from."""

    query: str
    positives: list[Document]
    negatives: list[Document]
    group: str = ""


class FinetuneTrainer(Trainer[FinetuneConfig]):
    """Fine-tunes a bi-encoder with InfoNCE: in-batch negatives plus sampled hard negatives."""

    Config: ClassVar[type[FinetuneConfig]] = FinetuneConfig
    description: ClassVar[str] = "contrastive bi-encoder fine-tuning (InfoNCE, in-batch + hard negatives)"
    citation: ClassVar[str] = CITATION

    def examples(self, inp: TrainingInput) -> list[Example]:
        """One language's training queries with their negative pools."""
        cfg = self.config
        use_file = cfg.negatives_from in ("training", "both")
        use_run = cfg.negatives_from in ("run", "both")
        if use_run and cfg.hard_negatives and not inp.runs:
            raise InputError("negatives_from needs an input stage's run (give the train stage `inputs:`)", "negatives_from")
        grouping = HoldoutRule(group_by=cfg.batch_group_by, parameter="batch_group_by") if cfg.batch_group_by else None
        out: list[Example] = []
        for ex in inp.examples():
            if not ex.positives:
                continue
            negatives = list(ex.negatives) if use_file else []
            if use_run and cfg.hard_negatives:
                negatives.extend(self._run_negatives(inp, ex.query_id, {d.docid for d in ex.positives}))
            out.append(Example(ex.query, ex.positives, negatives, grouping.group(ex) if grouping else ""))
            if cfg.max_examples is not None and len(out) >= cfg.max_examples:
                break
        return out

    def _run_negatives(self, inp: TrainingInput, qid: str, positives: set[str]) -> list[Document]:
        cfg = self.config
        judged = {d for d, r in inp.qrels.get(qid, {}).items() if r > 0}
        docids: list[str] = []
        for run in inp.runs.values():
            docids.extend(d for d, _ in run.get(qid, [])[: cfg.depth] if d not in positives and d not in judged)
        docids = list(dict.fromkeys(docids))
        return list(inp.corpus.get_many(docids).values()) if docids else []

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Fine-tune on every language's training data; write the model into ``output_dir``."""
        from rankfw_biencoder_distill.losses import info_nce
        from rankfw_biencoder_distill.training import (
            Trainable,
            count_batches,
            language_batches,
            seed_everything,
        )

        cfg = self.config
        data = {inp.language: self.examples(inp) for inp in inputs}
        data = {lang: items for lang, items in data.items() if items}
        if not data:
            raise InputError("no training examples with a positive passage in any language", ctx.stage)
        selector = Selector(inputs, cfg, ctx.stage) if cfg.select_on == "heldout" else None
        rng = seed_everything(cfg.seed)
        model = Trainable(cfg, cfg.model, ctx.cache_dir)
        start = trainable_state(model.model) if cfg.interpolate != [1.0] else None  # WiSE-FT
        per_epoch = count_batches(data, cfg.batch_size)
        steps = cfg.epochs * per_epoch
        opt, sched = model.optimiser(steps)
        ctx.log(f"{ctx.stage}: {sum(map(len, data.values()))} queries in {len(data)} language(s), {steps} steps")
        self._select(selector, model, 0, per_epoch)
        model.model.train()
        step = 0
        with ctx.progress(f"{ctx.stage}: fine-tune", steps) as bar:
            for _ in range(cfg.epochs):
                for _, batch in language_batches(data, cfg.batch_size, rng, attrgetter("group") if cfg.batch_group_by else None):
                    loss = self._loss(model, batch, rng, info_nce)
                    bar.advance(1, loss=round(model.step(loss, opt, sched), 4))
                    step += 1
                    if cfg.select_every is not None and (step % cfg.select_every == 0 or step == steps):
                        self._select(selector, model, step, per_epoch)
                if cfg.select_every is None:
                    self._select(selector, model, step, per_epoch)
        model.model.eval()
        if selector is not None and start is not None:
            from rankfw_biencoder_distill.training import heldout_scorer

            selector.interpolate(model.model, start, cfg.interpolate, heldout_scorer(model), cfg.epochs)
        elif start is not None:
            blend_weights(model.model, start, trainable_state(model.model), cfg.interpolate[0])
        if selector is not None:
            selector.restore(model.model)
            winner = selector.write(output_dir)["winner"]
            blend = f" blended {winner['interpolate']} toward the start" if "interpolate" in winner else ""
            ctx.log(f"{ctx.stage}: kept step {winner['step']} of {steps}{blend}: {selector.measure} {winner['value']:.4f} on held-out questions")
        model.save(output_dir)

    @staticmethod
    def _select(selector: Selector | None, model: Any, step: int, per_epoch: int) -> None:
        """Evaluate the model on the held-out questions (and keep its weights when best)."""
        if selector is None:
            return
        from rankfw_biencoder_distill.training import heldout_scorer

        if selector.evaluate(heldout_scorer(model), step, step / max(per_epoch, 1)):
            selector.keep(model.model)

    def _loss(self, model: Any, batch: list[Example], rng: random.Random, info_nce: Any) -> Any:
        cfg = self.config
        positives = [rng.choice(ex.positives) for ex in batch]
        negatives: list[Document] = []
        for ex in batch:
            pool = [d for d in ex.negatives if d.docid not in {p.docid for p in ex.positives}]
            negatives.extend(rng.sample(pool, min(cfg.hard_negatives, len(pool))))
        candidates = positives + negatives
        queries = model.embed([ex.query for ex in batch], model.query_prefix)
        passages = model.embed([d.contents for d in candidates], model.passage_prefix)
        return info_nce(
            queries,
            passages,
            [d.docid for d in candidates],
            [{p.docid for p in ex.positives} for ex in batch],
            cfg.temperature,
        )
