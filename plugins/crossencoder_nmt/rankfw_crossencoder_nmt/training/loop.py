"""The cross-encoder training loop: listwise softmax cross-entropy or BCE over query groups.

Each step takes ``batch_size`` groups (query, 1 positive, ``num_negatives`` negatives). Options
for CPU budgets: frozen embeddings and bottom layers, bf16 autocast, length-grouped batches.
The model is written with ``save_pretrained`` (safetensors) plus its tokenizer, the layout that
``transformers`` and ``sentence_transformers.CrossEncoder`` load.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from rankfw.core import InputError, StageContext, atomic_write_json
from rankfw.models import (
    SAFE_LOADING,
    ModelRef,
    Selector,
    TrainerConfig,
    blend_weights,
    freeze_bottom_layers,
    pick_device,
    trainable_state,
)
from rankfw_crossencoder_nmt.scoring import usable_length
from rankfw_crossencoder_nmt.training.groups import TrainGroup, sample_negatives


class LoopConfig(TrainerConfig):
    """Training parameters shared by the cross-encoder trainers (the common ones from
    :class:`rankfw.models.TrainerConfig`, some with this plugin's defaults)."""

    model: ModelRef = Field(
        "bundled:multilingual-e5-small",
        description="initial model: an encoder (a new 1-logit head is added) or a cross-encoder",
    )
    loss: Literal["listwise", "bce"] = Field("listwise", description="listwise softmax CE (1 positive vs negatives) or BCE")
    num_negatives: int = Field(3, ge=1, description="negatives per query group")
    random_negatives: int = Field(
        0, ge=0, description="how many of a group's negatives are random training passages (off-topic ones)"
    )
    batch_size: int = Field(8, ge=1, description="query groups per forward pass")
    grad_accumulation: int = Field(1, ge=1, description="forward passes per optimizer step")
    max_length: int = Field(160, gt=8, description="tokens per query/passage pair (the passage is truncated)")
    group_by_length: bool = Field(True, description="batch groups of similar length (less padding)")
    seed: int = Field(13, description="random seed (negative sampling, order, head init)")
    num_threads: int | None = Field(None, gt=0, description="torch CPU threads (default: torch's choice)")

    @model_validator(mode="after")
    def _random_within_negatives(self) -> LoopConfig:
        if self.random_negatives > self.num_negatives:
            raise ValueError(f"random_negatives ({self.random_negatives}) exceeds num_negatives ({self.num_negatives})")
        return self


def load_for_training(path: str, seed: int) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a 1-logit sequence-classification model on top of ``path``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized: classifier" is expected here
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, ignore_mismatched_sizes=True, **SAFE_LOADING
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    return model, tokenizer


def freeze(model: Any, embeddings: bool, layers: int) -> int:
    """Freeze the embeddings and/or the bottom ``layers`` layers; return the trainable parameter count."""
    base = model.base_model
    if embeddings and hasattr(base, "embeddings"):
        base.embeddings.requires_grad_(False)
    if layers:
        freeze_bottom_layers(model, layers)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def batches(groups: Sequence[TrainGroup], cfg: LoopConfig, rng: random.Random) -> list[list[int]]:
    """Group indices in batches: shuffled, and with ``group_by_length`` sorted within mega-batches."""
    order = list(range(len(groups)))
    rng.shuffle(order)
    size = cfg.batch_size
    if cfg.group_by_length:
        mega = size * 50
        sized: list[list[int]] = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start : start + mega], key=lambda i: -_length(groups[i]))
            sized.extend(chunk[j : j + size] for j in range(0, len(chunk), size))
        rng.shuffle(sized)
        return sized
    return [order[j : j + size] for j in range(0, len(order), size)]


def _length(group: TrainGroup) -> int:
    return len(group.query) + max([len(group.positive), *(len(n) for n in group.negatives)])


def train_groups(
    groups: Sequence[TrainGroup], cfg: LoopConfig, init_path: str, output_dir: Path, ctx: StageContext,
    extra_info: dict[str, Any] | None = None, selector: Selector | None = None,
) -> dict[str, Any]:
    """Train a cross-encoder from ``init_path`` on ``groups`` and save it into ``output_dir``; with a
    ``selector``, the checkpoint that is best on its held-out questions is the one saved."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    if not groups:
        raise InputError("no training groups (no query with a positive passage)", ctx.stage)
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    rng = random.Random(cfg.seed)
    model, tokenizer = load_for_training(init_path, cfg.seed)
    trainable = freeze(model, cfg.freeze_embeddings, cfg.freeze_layers)
    device = pick_device(cfg.device)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    per_epoch = math.ceil(len(groups) / cfg.batch_size)
    steps = math.ceil(per_epoch / cfg.grad_accumulation) * cfg.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * steps), steps)
    fallback = sorted({g.positive for g in groups} | {n for g in groups for n in g.negatives})
    if len(fallback) < 2:
        raise InputError("training needs at least two distinct passages", ctx.stage)
    width = 1 + cfg.num_negatives
    max_length = usable_length(cfg.max_length, tokenizer, model)
    losses: list[float] = []
    started = time.perf_counter()
    pairs_seen = 0
    ctx.log(f"{ctx.stage}: {len(groups)} groups, {trainable:,} trainable parameters, {steps} steps on {device}")
    step = 0
    coefficients = list(getattr(cfg, "interpolate", [1.0]))  # WiSE-FT (SelectionParams)
    start = trainable_state(model) if coefficients != [1.0] else None

    def select() -> None:
        if selector is not None and selector.evaluate(pair_scorer(model, tokenizer, max_length, device), step, step / (steps / cfg.epochs)):
            selector.keep(model)

    select()
    with ctx.progress(f"{ctx.stage}: train", per_epoch * cfg.epochs) as bar:
        for epoch in range(cfg.epochs):
            for b, idx in enumerate(batches(groups, cfg, rng)):
                queries: list[str] = []
                passages: list[str] = []
                for i in idx:
                    g = groups[i]
                    queries.extend([g.query] * width)
                    passages.extend([g.positive, *sample_negatives(g, cfg.num_negatives, rng, fallback, cfg.random_negatives)])
                enc = tokenizer(queries, passages, padding=True, truncation="only_second",
                                max_length=max_length, return_tensors="pt").to(device)
                with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    logits = model(**enc).logits.float().view(len(idx), width)
                loss = _loss(logits, cfg.loss) / cfg.grad_accumulation
                loss.backward()
                if (b + 1) % cfg.grad_accumulation == 0 or b + 1 == per_epoch:
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    if selector is not None and selector.every is not None and (step % selector.every == 0 or step == steps):
                        select()
                value = loss.item() * cfg.grad_accumulation
                losses.append(value)
                pairs_seen += len(queries)
                bar.advance(1, loss=round(sum(losses[-20:]) / len(losses[-20:]), 4), epoch=epoch + 1)
            if selector is not None and selector.every is None:
                select()
    seconds = time.perf_counter() - started
    model.eval()
    if selector is not None and start is not None:
        selector.interpolate(model, start, coefficients, pair_scorer(model, tokenizer, max_length, device), cfg.epochs)
    elif start is not None:
        blend_weights(model, start, trainable_state(model), coefficients[0])
    if selector is not None:
        selector.restore(model)
        extra_info = {**(extra_info or {}), "selected": selector.write(output_dir)["winner"]}
        ctx.log(f"{ctx.stage}: kept step {extra_info['selected']['step']} of {steps} "
                f"({selector.measure} {extra_info['selected']['value']:.4f} on held-out questions)")
    output_dir.mkdir(parents=True, exist_ok=True)
    model.config.num_labels = 1
    model.save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)
    # no timings in the model folder: the same training writes the same bytes, so the stages that
    # read the model are reused when it is retrained unchanged (the stage manifest keeps the seconds)
    info = {
        "groups": len(groups), "pairs_seen": pairs_seen,
        "loss_first": _mean(losses[: max(1, len(losses) // 10)]), "loss_last": _mean(losses[-max(1, len(losses) // 10) :]),
        "trainable_parameters": trainable, "config": cfg.model_dump(), **(extra_info or {}),
    }
    atomic_write_json(output_dir / "rankfw_training.json", info)
    ctx.log(f"{ctx.stage}: trained in {seconds:.0f} s ({1000 * seconds / max(pairs_seen, 1):.1f} s per 1,000 pairs), "
            f"loss {info['loss_first']:.3f} -> {info['loss_last']:.3f}")
    return info


def pair_scorer(model: Any, tokenizer: Any, max_length: int, device: str, batch_size: int = 32) -> Any:
    """A :data:`rankfw.models.selection.Scorer`: the model's logit for every (query, passage) pair,
    no gradients (eval mode while scoring, the former mode after)."""
    import torch

    def score(queries: list[str], passages: list[list[Any]]) -> list[list[float]]:
        pairs = [(q, d.contents) for q, docs in zip(queries, passages) for d in docs]
        was_training = model.training
        model.eval()
        flat: list[float] = []
        try:
            with torch.no_grad():
                for i in range(0, len(pairs), batch_size):
                    chunk = pairs[i : i + batch_size]
                    enc = tokenizer([q for q, _ in chunk], [p for _, p in chunk], padding=True, truncation="only_second",
                                    max_length=max_length, return_tensors="pt").to(device)
                    flat.extend(model(**enc).logits.float().view(-1).tolist())
        finally:
            model.train(was_training)
        out, start = [], 0
        for docs in passages:
            out.append(flat[start : start + len(docs)])
            start += len(docs)
        return out

    return score


def _loss(logits: Any, kind: str) -> Any:
    import torch

    if kind == "listwise":
        target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        return torch.nn.functional.cross_entropy(logits, target)
    labels = torch.zeros_like(logits)
    labels[:, 0] = 1.0
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")
