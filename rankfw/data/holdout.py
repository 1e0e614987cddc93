"""Which training queries are held out: by query, by article title or by a docid pattern, as a
fraction or as one of K folds.

A *group* is what never straddles training and held-out: a query (``query``, the default), the
title of the example's first positive passage (``title``), or the first capture group of a regular
expression applied to that passage's docid (``docid:REGEX``, e.g. ``docid:^(xq-\\d+)-`` for the
article of an XQuAD-R sentence). Groups are assigned by a stable hash of the group key, so the split
does not depend on file order, and parallel collections whose group keys are shared (docids, qids)
get the same held-out questions in every language. Titles are often translated, so ``title`` does
not keep a parallel collection's languages aligned: use ``docid:REGEX`` there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from rankfw.core.errors import InputError
from rankfw.core.types import TrainingExample

GROUP_BY_HELP = "query (default), title (of the first positive passage), or docid:REGEX (its first capture group)"


def check_group_by(value: str, name: str = "holdout_group_by") -> str:
    """``value`` if it is a valid group rule; a ValueError (one line, naming the parameter ``name``) if not."""
    if value in ("query", "title"):
        return value
    if value.startswith("docid:"):
        try:
            pattern = re.compile(value[len("docid:") :])
        except re.error as e:
            raise ValueError(f"bad regular expression in {value!r}: {e}") from None
        if pattern.groups < 1:
            raise ValueError(f"{value!r} needs a capture group, e.g. docid:^(xq-\\d+)-")
        return value
    raise ValueError(f"unknown {name} {value!r}: {GROUP_BY_HELP}")


def docid_group(pattern: re.Pattern[str], docid: str) -> str | None:
    """The group key a ``docid:REGEX`` rule gives ``docid`` (the first capture group of its search),
    ``None`` when the pattern misses it."""
    match = pattern.search(docid)
    return None if match is None else match.group(1)


def unit_hash(key: str) -> float:
    """A stable number in [0, 1) for ``key`` (the first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64


def is_heldout(qid: str, fraction: float) -> bool:
    """Whether a training query is held out: a stable hash of its id, independent of file order."""
    return fraction > 0 and unit_hash(qid) < fraction


@dataclass(frozen=True)
class HoldoutRule:
    """How a language's training queries are split: ``fraction`` of the groups, or fold ``fold`` of
    ``folds`` (whole groups per fold); ``group_by`` as in the module docstring. ``parameter`` is
    the setting ``group_by`` came from, named by the error for a docid the pattern misses."""

    fraction: float = 0.0
    group_by: str = "query"
    folds: int | None = None
    fold: int = 0
    parameter: str = "dataset.holdout_group_by"

    @property
    def active(self) -> bool:
        return self.folds is not None or self.fraction > 0

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.group_by[len("docid:") :]) if self.group_by.startswith("docid:") else None

    def group(self, ex: TrainingExample) -> str:
        """The example's group key (its query id when it has no positive passage)."""
        if self.group_by == "query" or not ex.positives:
            return ex.query_id
        first = ex.positives[0]
        if self.group_by == "title":
            return first.title or ex.query_id
        assert self._pattern is not None
        key = docid_group(self._pattern, first.docid)
        if key is None:
            raise InputError(
                f"docid {first.docid!r} (query {ex.query_id!r}) does not match {self.parameter.rsplit('.', 1)[-1]} {self.group_by!r}",
                self.parameter,
            )
        return key

    def heldout_qids(self, examples: Iterable[TrainingExample]) -> frozenset[str]:
        """The query ids of ``examples`` that are held out (whole groups at a time).

        Folds deal the groups, ordered by their hash, round-robin to the K folds: every fold gets
        a share of the groups even when there are few (a dozen articles), and two languages with
        the same group keys get the same folds."""
        if not self.active:
            return frozenset()
        groups = {ex.query_id: self.group(ex) for ex in examples}
        if self.folds is None:
            return frozenset(q for q, g in groups.items() if is_heldout(g, self.fraction))
        ordered = sorted(set(groups.values()), key=lambda g: (unit_hash(g), g))
        held = {g for i, g in enumerate(ordered) if i % self.folds == self.fold}
        return frozenset(q for q, g in groups.items() if g in held)

    def fingerprint(self) -> dict[str, str | int]:
        """The non-default settings (none for a per-query fraction: cache keys stay as they were)."""
        out: dict[str, str | int] = {}
        if self.group_by != "query":
            out["holdout_group_by"] = self.group_by
        if self.folds is not None:
            out["holdout_folds"] = self.folds
            out["holdout_fold"] = self.fold
        return out
