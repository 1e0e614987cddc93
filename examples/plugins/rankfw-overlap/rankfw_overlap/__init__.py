"""rankfw-overlap: a query-term overlap re-ranker, as a third-party rankfw plugin."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from pydantic import Field

from rankfw.core import ComponentConfig, Corpus, Reranker, Run, StageContext, Topics, hookimpl

__version__ = "1.0.0"
_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(text: str, lowercase: bool) -> set[str]:
    return set(_WORD.findall(text.lower() if lowercase else text))


class QueryOverlapReranker(Reranker):
    """Scores a candidate by the IDF-weighted share of the query's terms it contains.

    IDF is computed over the query's own candidate list, so no index or model is needed.
    The first-stage score breaks ties (scaled by ``tie_weight``).
    """

    description = "Query-term overlap re-ranker, IDF over each query's candidates"
    citation = ""

    class Config(ComponentConfig):
        k: int = Field(100, gt=0, description="hits kept per query")
        lowercase: bool = Field(True, description="lower-case query and passage before matching")
        tie_weight: float = Field(1e-3, ge=0, description="weight of the first-stage score")

    config: Config

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        docs = corpus.get_many(run.docids())
        scores: dict[str, dict[str, float]] = {}
        with ctx.progress("query-overlap", len(run)) as bar:
            for qid, hits in run.items():
                query = _terms(topics[qid], self.config.lowercase)
                cand = {d: _terms(docs[d].contents, self.config.lowercase) for d, _ in hits}
                df = Counter(t for terms in cand.values() for t in terms & query)
                idf = {t: math.log(1 + len(cand) / (1 + df[t])) for t in sorted(query)}
                total = sum(idf.values()) or 1.0
                scores[qid] = {
                    d: sum(idf[t] for t in sorted(query & cand[d])) / total + self.config.tie_weight * s
                    for d, s in hits
                }
                bar.advance(1)
        return Run.from_scores(scores, k=self.config.k)


@hookimpl
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    """Register the 'query-overlap' re-ranker."""
    register("query-overlap", QueryOverlapReranker)
