"""What both trainers share: their parameters, the trainable model, batches, optimiser, saving."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from rankfw.models import ModelRef, TrainerConfig, freeze_bottom_layers
from rankfw_biencoder_distill.params import DEFAULT_MODEL


class TrainConfig(TrainerConfig):
    """Optimisation parameters shared by the bi-encoder trainers (the common ones from
    :class:`rankfw.models.TrainerConfig`, some with this plugin's defaults)."""

    model: ModelRef = Field(DEFAULT_MODEL, description="the model to start from (the student)")
    lr: float = Field(2e-5, gt=0, description="peak learning rate (AdamW)")
    batch_size: int = Field(32, gt=1, description="items per batch (one language per batch)")
    max_length: int = Field(128, gt=0, le=8192, description="tokens per text while training")
    freeze_embeddings: bool = Field(True, description="keep the word embeddings fixed (fast, less forgetting)")
    temperature: float = Field(0.05, gt=0, description="softmax temperature of the scores")
    pooling: Literal["auto", "mean", "cls"] = Field("auto", description="token pooling; auto = the model's own")
    query_prefix: str | None = Field(None, description="None = the model's 'query' prompt")
    passage_prefix: str | None = Field(None, description="None = the model's 'passage' prompt")


class Trainable:
    """A sentence-transformers model being trained, with its prefixes and device."""

    def __init__(self, config: TrainConfig, ref: str, cache_dir: Path) -> None:
        import torch

        from rankfw_biencoder_distill.encoder import load_sentence_transformer, prompt_of

        self.config = config
        self.model = load_sentence_transformer(ref, config.pooling, 1 << 30, config.device, cache_dir)
        self.full_length = self.model.max_seq_length  # what the saved model keeps (the model's own limit)
        self.model.max_seq_length = min(config.max_length, self.full_length)  # training truncates here
        self.device = self.model.device
        self.query_prefix = config.query_prefix if config.query_prefix is not None else prompt_of(self.model, ["query"])
        self.passage_prefix = (
            config.passage_prefix if config.passage_prefix is not None else prompt_of(self.model, ["passage", "document"])
        )
        if config.freeze_embeddings:
            self.model.transformers_model.get_input_embeddings().weight.requires_grad_(False)
        if config.freeze_layers:
            freeze_bottom_layers(self.model.transformers_model, config.freeze_layers)
        self._torch = torch

    def embed(self, texts: Sequence[str], prefix: str) -> Any:
        """Embeddings (with gradients when training) of ``prefix + text`` for every text."""
        texts = [prefix + t for t in texts]
        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize  # preprocess: ST >= 6
        features = prepare(texts)
        features = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in features.items()}
        with self.autocast():
            return self.model(features)["sentence_embedding"]

    def autocast(self) -> AbstractContextManager[Any]:
        """bfloat16 autocast when asked for, else nothing."""
        if not self.config.bf16:
            return nullcontext()
        return self._torch.autocast(device_type=self.device.type, dtype=self._torch.bfloat16)

    def optimiser(self, steps: int) -> tuple[Any, Any]:
        """AdamW over the trainable parameters and a linear warm-up/decay schedule."""
        from transformers import get_linear_schedule_with_warmup

        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = self._torch.optim.AdamW(params, lr=self.config.lr, weight_decay=self.config.weight_decay)
        sched = get_linear_schedule_with_warmup(opt, int(self.config.warmup * steps), max(steps, 1))
        return opt, sched

    def step(self, loss: Any, opt: Any, sched: Any) -> float:
        """Back-propagate ``loss`` and update; returns its value."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self._torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        return float(loss.detach())

    def save(self, output_dir: Path) -> None:
        """Write a sentence-transformers folder (safetensors) with the prefixes as prompts."""
        prompts = dict(getattr(self.model, "prompts", None) or {})
        if self.query_prefix:
            prompts["query"] = self.query_prefix
        if self.passage_prefix:
            prompts["passage"] = self.passage_prefix
        self.model.prompts = prompts
        training_length = self.model.max_seq_length
        # sentence-transformers keeps max_seq_length in the tokenizer, which is saved with it: without
        # this, every later stage would truncate texts at the training length.
        self.model.max_seq_length = self.full_length
        try:
            self.model.save(str(output_dir), safe_serialization=True, create_model_card=False)
        finally:
            self.model.max_seq_length = training_length


def seed_everything(seed: int) -> random.Random:
    """Seed torch and return a seeded ``random.Random`` for sampling."""
    import torch

    torch.manual_seed(seed)
    return random.Random(seed)


def language_batches(
    items_by_language: dict[str, list[Any]], batch_size: int, rng: random.Random, group_of: Callable[[Any], str] | None = None
) -> Iterator[tuple[str, list[Any]]]:
    """Shuffled batches that each hold one language's items (a translation of a positive in the
    same batch would be a false negative); the batch order mixes the languages.

    With ``group_of`` (an item's group, e.g. its article), a language's items are laid out group
    by group (groups and the items within them shuffled) before they are cut into batches, so a
    batch holds one or two groups and its in-batch negatives are on the same topic: topic-aware
    sampling (Hofstätter et al., SIGIR 2021). The number of batches does not change."""
    batches: list[tuple[str, list[Any]]] = []
    for language, items in items_by_language.items():
        order = list(items)
        rng.shuffle(order)
        if group_of is not None:
            groups: dict[str, list[Any]] = {}
            for item in order:
                groups.setdefault(group_of(item), []).append(item)
            keys = sorted(groups)
            rng.shuffle(keys)
            order = [item for key in keys for item in groups[key]]
        batches.extend((language, order[i : i + batch_size]) for i in range(0, len(order), batch_size))
    rng.shuffle(batches)
    yield from batches


def count_batches(items_by_language: dict[str, list[Any]], batch_size: int) -> int:
    """How many batches :func:`language_batches` yields."""
    return sum(-(-len(items) // batch_size) for items in items_by_language.values())


def heldout_scorer(model: Trainable, batch_size: int = 64) -> Any:
    """A :data:`rankfw.models.selection.Scorer`: cosine of query and passage embeddings, no gradients
    (the model is put in eval mode while scoring and back in its former mode after)."""
    import torch

    def score(queries: list[str], passages: list[list[Any]]) -> list[list[float]]:
        was_training = model.model.training
        model.model.eval()
        try:
            with torch.no_grad():
                q = torch.cat([model.embed(queries[i : i + batch_size], model.query_prefix) for i in range(0, len(queries), batch_size)])
                texts = list(dict.fromkeys(d.contents for docs in passages for d in docs))
                p = torch.cat([model.embed(texts[i : i + batch_size], model.passage_prefix) for i in range(0, len(texts), batch_size)])
                q = torch.nn.functional.normalize(q.float(), dim=-1)
                p = torch.nn.functional.normalize(p.float(), dim=-1)
        finally:
            model.model.train(was_training)
        row = {t: i for i, t in enumerate(texts)}
        return [[float(q[i] @ p[row[d.contents]]) for d in docs] for i, docs in enumerate(passages)]

    return score
