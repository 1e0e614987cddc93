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
from functools import cached_property

from pydantic import Field, field_validator

from rankfw.core import ComponentConfig, Corpus, InputError, Reranker, Run, StageContext, Topics, check_group_by

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

    def groups(self, run: Run, corpus: Corpus, where: str) -> dict[str, str]:
        """``docid -> group key`` for every docid of ``run``; a docid the pattern misses is an error."""
        docids = sorted({d for hits in run.values() for d, _ in hits})
        if self._pattern is None:
            documents = corpus.get_many(docids)
            return {d: documents[d].title or d for d in docids}
        keys: dict[str, str] = {}
        for docid in docids:
            match = self._pattern.search(docid)
            if match is None or match.group(1) is None:
                raise InputError(f"docid {docid!r} does not match group_by {self.config.group_by!r}", where)
            keys[docid] = match.group(1)
        return keys

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Blend each hit's normalised score with the best normalised score of its group."""
        group_of = self.groups(run, corpus, f"stages.{ctx.stage}.params.group_by")
        weight = self.config.weight
        scores: dict[str, dict[str, float]] = {}
        for qid, hits in run.items():
            if not hits:
                scores[qid] = {}
                continue
            values = [s for _, s in hits]
            low, span = min(values), max(values) - min(values)
            own = {d: (s - low) / span if span > 0 else 0.0 for d, s in hits}
            best: dict[str, float] = {}
            for docid, value in own.items():
                key = group_of[docid]
                best[key] = max(best.get(key, value), value)
            scores[qid] = {d: (1 - weight) * v + weight * best[group_of[d]] for d, v in own.items()}
        return Run.from_scores(scores, k=self.config.k)
