"""The ``biencoder`` reranker: query and passage embeddings, scored by inner product."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from rankfw.core import Corpus, Reranker, Run, StageContext, Topics
from rankfw_biencoder_distill.params import EncoderConfig, EncoderUser

CITATION = (
    "Reimers and Gurevych. Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks. EMNLP 2019. "
    "Wang et al. Multilingual E5 Text Embeddings: A Technical Report. arXiv:2402.05672, 2024."
)


class BiEncoderRerankerConfig(EncoderConfig):
    """Parameters of the ``biencoder`` reranker: the bi-encoder model, how it is run, and how many
    hits of the input run are re-scored (``depth``) and kept (``k``)."""

    depth: int | None = Field(None, gt=0, description="top hits of the input run re-scored per query (None: all)")
    k: int | None = Field(None, gt=0, description="hits kept per query (None: all re-scored)")


class BiEncoderReranker(EncoderUser[BiEncoderRerankerConfig], Reranker[BiEncoderRerankerConfig]):
    """Re-scores each candidate by the inner product of query and passage embeddings."""

    Config: ClassVar[type[BiEncoderRerankerConfig]] = BiEncoderRerankerConfig
    description: ClassVar[str] = "bi-encoder reranker (sentence-transformers model; each distinct passage encoded once)"
    citation: ClassVar[str] = CITATION

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        """Score the top ``depth`` candidates of every query of ``run``; keep ``k`` by that score."""
        run = run.top(self.config.depth) if self.config.depth else run
        qids = [q for q in run if run[q]]
        docids = sorted({d for q in qids for d, _ in run[q]})
        docs = corpus.get_many(docids)
        encoder = self.encoder(ctx)
        row = {d: i for i, d in enumerate(docids)}
        with ctx.progress(f"{ctx.stage}: encode passages", len(docids)) as bar:
            passages = encoder.passages([docs[d].contents for d in docids], bar)
        with ctx.progress(f"{ctx.stage}: encode queries", len(qids)) as bar:
            queries = encoder.queries([topics[q] for q in qids], bar)
        scores: dict[str, dict[str, float]] = {q: {} for q in run}
        for qi, qid in enumerate(qids):
            cand = [d for d, _ in run[qid]]
            values = passages[[row[d] for d in cand]] @ queries[qi]
            scores[qid] = dict(zip(cand, values.tolist(), strict=True))
        return Run.from_scores(scores, k=self.config.k)
