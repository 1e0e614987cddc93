"""Training losses (torch): contrastive InfoNCE, embedding MSE, ranking-distillation KL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def info_nce(queries: Any, candidates: Any, candidate_ids: Sequence[str], positive_ids: Sequence[set[str]], temperature: float) -> Any:
    """InfoNCE over in-batch candidates: query ``i``'s positive is ``candidates[i]``.

    ``candidates`` holds the batch's positives first (one per query) then its hard negatives;
    a candidate that is also a positive of query ``i`` (``positive_ids[i]``), other than its own,
    is masked out for that query rather than counted as a negative.

    van den Oord et al. Representation Learning with Contrastive Predictive Coding. 2018.
    """
    import torch
    import torch.nn.functional as F

    logits = queries @ candidates.T / temperature
    n = queries.shape[0]
    mask = torch.zeros_like(logits, dtype=torch.bool)
    for i in range(n):
        for j, cid in enumerate(candidate_ids):
            if j != i and cid in positive_ids[i]:
                mask[i, j] = True
    logits = logits.masked_fill(mask, float("-inf"))
    return F.cross_entropy(logits.float(), torch.arange(n, device=logits.device))


def embedding_mse(student: Any, teacher: Any) -> Any:
    """Squared error between student and teacher embeddings, summed over dimensions and averaged
    over rows (Reimers and Gurevych, EMNLP 2020); summing keeps it on the KL's scale for unit vectors."""
    return (student.float() - teacher.float()).pow(2).sum(dim=-1).mean()


def ranking_kl(student_scores: Any, teacher_scores: Any, temperature: float) -> Any:
    """KL(teacher || student) between score distributions over each query's candidates (rows).

    Hinton et al. Distilling the Knowledge in a Neural Network. 2015.
    """
    import torch.nn.functional as F

    log_student = F.log_softmax(student_scores.float() / temperature, dim=-1)
    teacher = F.softmax(teacher_scores.float() / temperature, dim=-1)
    return F.kl_div(log_student, teacher, reduction="batchmean")
