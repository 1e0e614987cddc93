"""Group context: each passage's score fused with the best score of its group (paragraph,
document) in the same run.

A question is asked of a paragraph, and the sentence that answers it often shares few words or
little meaning with it on its own; the paragraph's other sentences carry the rest. Within each
query, scores are min-max normalised, and a passage's new score is
``(1 - weight) * own + weight * (the best own score of its group in the run)``: the group's
evidence lifts every sentence of a paragraph that something in it matched, and the passage's own
score still orders the paragraph's sentences. Candidates stay the same; only their order changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property

from pydantic import Field, field_validator

from rankfw.core import (ComponentConfig, Corpus, InputError, Reranker, Run, StageContext, Topics, check_group_by,
                         docid_group)
from rankfw_fusion.norms import Segments, min_max_norm

GROUP_HELP = "title (of the passage) or docid:REGEX (its first capture group, e.g. docid:^(xq-\\d+-\\d+)-)"


class GroupContextConfig(ComponentConfig):
    """Which passages form a group, and how much the group's best score counts."""

    group_by: str = Field(description=f"what makes a group: {GROUP_HELP}")
    weight: float = Field(0.5, ge=0.0, le=1.0, description="share of the group's best normalised score in the new score "
                          "(0: the input run unchanged)")
    k: int | None = Field(None, gt=0, description="hits kept per query (None: all)")

    @field_validator("group_by")
    @classmethod
    def _valid_group_by(cls, value: str) -> str:
        if value == "query":  # the holdout syntax's default: here every passage would be its own group
            raise ValueError(f"group_by 'query' groups nothing: {GROUP_HELP}")
        return check_group_by(value, "group_by")


class GroupContextReranker(Reranker[GroupContextConfig]):
    """Re-scores a run with the evidence of each passage's group (its paragraph or document)."""

    Config = GroupContextConfig
    description = "Group context: each passage's normalised score blended with its group's best score in the run"
    citation = ("Answer sentences retrieved in the context of their paragraph, as in ReQA "
                "(Ahmad et al., 2019, 'ReQA: An Evaluation for End-to-End Answer Retrieval Models')")

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        rule = self.config.group_by
        return re.compile(rule[len("docid:"):]) if rule.startswith("docid:") else None

    def groups(self, docids: Iterable[str], corpus: Corpus, where: str) -> dict[str, str]:
        """``docid -> group key`` for ``docids``; a docid the pattern misses is an error."""
        docids = sorted(set(docids))
        if self._pattern is None:
            documents = corpus.get_many(docids)
            return {d: documents[d].title or d for d in docids}
        keys: dict[str, str] = {}
        for docid in docids:
            key = docid_group(self._pattern, docid)
            if key is None:
                raise InputError(f"docid {docid!r} does not match group_by {self.config.group_by!r}", where)
            keys[docid] = key
        return keys

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Blend each hit's normalised score (the fusion's min-max) with the best of its group's."""
        import numpy as np

        columns = run.columns()
        used = np.unique(columns.codes)  # the columns' names may hold docids no hit uses
        used_docids = columns.names[used].tolist()
        group_of = self.groups(used_docids, corpus, f"stages.{ctx.stage}.params.group_by")
        keys = {key: i for i, key in enumerate(sorted(set(group_of.values())))}
        code_group = np.zeros(len(columns.names), dtype=np.int64)
        code_group[used] = [keys[group_of[d]] for d in used_docids]
        segments = Segments.from_offsets(columns.offsets)
        own = min_max_norm(columns.scores, segments).scores
        group = code_group[columns.codes]
        cells, cell = np.unique(segments.query * max(len(keys), 1) + group, return_inverse=True)
        best = np.full(len(cells), -np.inf)
        np.maximum.at(best, cell, own)
        blended = ((1 - self.config.weight) * own + self.config.weight * best[cell]).tolist()
        docids = columns.names[columns.codes].tolist()
        bounds = columns.offsets.tolist()
        scores = {qid: dict(zip(docids[bounds[i] : bounds[i + 1]], blended[bounds[i] : bounds[i + 1]], strict=True))
                  for i, qid in enumerate(columns.qids)}
        return Run.from_scores(scores, k=self.config.k)
