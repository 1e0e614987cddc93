"""Training groups: a query, one positive passage and a pool of negative passages."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from rankfw.core import TrainingExample


@dataclass(frozen=True)
class TrainGroup:
    """One listwise training item: ``query`` with its ``positive`` and a pool of ``negatives``."""

    query: str
    positive: str
    negatives: tuple[str, ...] = field(default_factory=tuple)


def groups_from_examples(examples: Iterable[TrainingExample]) -> list[TrainGroup]:
    """One group per (example, positive passage); examples without a positive are skipped."""
    groups: list[TrainGroup] = []
    for ex in examples:
        negatives = tuple(dict.fromkeys(n.contents for n in ex.negatives))
        for pos in ex.positives:
            groups.append(TrainGroup(ex.query, pos.contents, tuple(n for n in negatives if n != pos.contents)))
    return groups


def sample_negatives(
    group: TrainGroup, n: int, rng: random.Random, fallback: list[str], random_count: int = 0
) -> list[str]:
    """``n`` negatives: ``n - random_count`` from the group's pool (no repeats while it lasts), the rest
    random passages from ``fallback`` (which must hold a passage other than the positive).

    Random negatives show the model off-topic passages: a pool of same-paragraph sentences alone
    never does, yet a first stage's hits are mostly off-topic."""
    pool = list(group.negatives)
    hard = max(n - random_count, 0)
    out = rng.sample(pool, hard) if len(pool) >= hard else pool[:]
    while len(out) < n:
        candidate = rng.choice(fallback)
        if candidate != group.positive:
            out.append(candidate)
    return out
