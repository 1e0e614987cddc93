"""Conformance suites a plugin's tests subclass, one per kind (as PyTerrier's ``TransformerTestCase``).

Subclass one and override the ``make`` fixture: a function ``k -> component`` (``k=None``: the
component's default)::

    class TestMyReranker(RerankerContract):
        @pytest.fixture
        def make(self, tiny_model):
            return lambda k=None: MyReranker(MyReranker.Config(model=str(tiny_model), k=k))

Every suite checks that the Config round-trips through JSON and that the component pickles (the
Ray executor ships components to its workers); the run kinds check that the result is a Run over
every qid of the input with known docids only, that ``k`` is respected and that two calls give
the same run; the trainer suite that a model folder is written, the same twice, from the
training examples only. The data is a slice of XQuAD-R English (:func:`rankfw.testing.xquad_data`);
override the ``data`` fixture for other data.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rankfw.core.components import Component, Fuser, Reranker, Retriever, StageContext, Trainer, TrainingInput
from rankfw.core.runs import Run
from rankfw.core.types import Corpus, Qrels, Topics
from rankfw.testing import make_context, xquad_data

Make = Callable[..., Component[Any]]


@dataclass
class ContractData:
    """What the suites feed a component: topics and qrels of one language, its corpus, a
    candidate run (BM25-like: a term-overlap ranking of the whole corpus), and a training input."""

    language: str
    topics: Topics
    qrels: Qrels
    corpus: Corpus
    candidates: Run
    training: list[TrainingInput] = field(default_factory=list)


def xquad_contract_data(cache: Path, language: str = "en", n_topics: int = 12, depth: int = 30) -> ContractData:
    """A slice of XQuAD-R ``language``: ``n_topics`` dev topics, the corpus, top-``depth`` overlap
    candidates, and one training input over the training file (its first 20 questions held out)."""
    from rankfw.data import JsonlCorpus, read_qrels, read_topics, read_training

    root = xquad_data() / language
    topics = dict(list(read_topics(root / "topics.dev.tsv").items())[:n_topics])
    qrels = {q: r for q, r in read_qrels(root / "qrels.dev.txt").items() if q in topics}
    corpus = JsonlCorpus(root / "corpus.jsonl", cache)
    words = {d.docid: set(d.contents.lower().split()) for d in corpus}
    scores = {q: {d: float(len(set(t.lower().split()) & w)) for d, w in words.items()} for q, t in topics.items()}
    candidates = Run.from_scores(scores, k=depth)
    train = root / "train.jsonl.gz"
    held = frozenset(ex.query_id for _, ex in zip(range(20), read_training(train)))
    reverse = Run.from_scores({q: {d: float(i) for i, (d, _) in enumerate(h)} for q, h in candidates.items()})
    training = [TrainingInput(language, corpus, training=str(train), topics=topics, qrels=qrels,
                              runs={"first": candidates, "second": reverse}, excluded_qids=held)]
    return ContractData(language, topics, qrels, corpus, candidates, training)


class _Contract:
    """What every component must do."""

    @pytest.fixture
    def make(self) -> Make:
        raise NotImplementedError("override the 'make' fixture: a function k -> component")

    @pytest.fixture(scope="class")
    def data(self, tmp_path_factory: pytest.TempPathFactory) -> ContractData:
        return xquad_contract_data(tmp_path_factory.mktemp("contract-cache"))

    @pytest.fixture
    def ctx(self, tmp_path: Path, data: ContractData) -> StageContext:
        return make_context(tmp_path, data.language, stage="contract")

    def test_config_round_trips_through_json(self, make: Make) -> None:
        config = make().config
        assert type(config).model_validate_json(config.model_dump_json()) == config
        assert type(config).model_validate(config.model_dump(mode="json")) == config

    def test_component_pickles_with_its_config(self, make: Make) -> None:
        component = make()
        again = pickle.loads(pickle.dumps(component))
        assert type(again) is type(component) and again.config == component.config

    def test_has_a_description(self, make: Make) -> None:
        assert make().description.strip()


class _RunContract(_Contract):
    """What every component that returns a Run must do (``call`` runs it on the data)."""

    k = 3

    def call(self, component: Any, data: ContractData, ctx: StageContext) -> Run:
        raise NotImplementedError

    def expected_qids(self, data: ContractData) -> set[str]:
        return set(data.candidates)

    def test_returns_a_run_over_every_qid_with_known_docids(self, make: Make, data: ContractData, ctx: StageContext) -> None:
        run = self.call(make(), data, ctx)
        assert isinstance(run, Run)
        assert set(run) == self.expected_qids(data)
        assert data.corpus.missing(run.docids()) == []
        for hits in run.values():
            assert len({d for d, _ in hits}) == len(hits), "a docid is listed twice for one query"
            assert all(a[1] >= b[1] for a, b in itertools.pairwise(hits)), "hits are not in decreasing score order"

    def test_respects_k(self, make: Make, data: ContractData, ctx: StageContext) -> None:
        run = self.call(make(self.k), data, ctx)
        assert all(len(hits) <= self.k for hits in run.values())
        assert any(len(hits) == self.k for hits in run.values())

    def test_is_deterministic(self, make: Make, data: ContractData, ctx: StageContext) -> None:
        first = self.call(make(), data, ctx)
        second = self.call(make(), data, ctx)  # a fresh component, as a resumed run builds it
        assert dict(first.items()) == dict(second.items())


class RetrieverContract(_RunContract):
    """The conformance suite of a :class:`rankfw.core.Retriever`."""

    def call(self, component: Retriever[Any], data: ContractData, ctx: StageContext) -> Run:
        return component.retrieve(data.topics, data.corpus, ctx)

    def expected_qids(self, data: ContractData) -> set[str]:
        return set(data.topics)


class RerankerContract(_RunContract):
    """The conformance suite of a :class:`rankfw.core.Reranker`: it re-ranks the candidates."""

    def call(self, component: Reranker[Any], data: ContractData, ctx: StageContext) -> Run:
        return component.rerank(data.topics, data.candidates, data.corpus, ctx)

    def test_keeps_to_the_candidates(self, make: Make, data: ContractData, ctx: StageContext) -> None:
        run = self.call(make(), data, ctx)
        for qid, hits in run.items():
            assert {d for d, _ in hits} <= {d for d, _ in data.candidates[qid]}


class FuserContract(_RunContract):
    """The conformance suite of a :class:`rankfw.core.Fuser`: it fuses two runs of the topics."""

    def inputs(self, data: ContractData) -> list[Run]:
        return list(data.training[0].runs.values())  # the candidates and the candidates reversed

    def call(self, component: Fuser[Any], data: ContractData, ctx: StageContext) -> Run:
        return component.fuse(self.inputs(data), ctx)


class TrainerContract(_Contract):
    """The conformance suite of a :class:`rankfw.core.Trainer`: it writes a model folder, the same
    files twice, and sees no held-out query."""

    def train(self, component: Trainer[Any], data: ContractData, ctx: StageContext, out: Path) -> Path:
        out.mkdir(parents=True)
        component.train(data.training, out, ctx)
        return out

    def test_writes_a_model_folder(self, make: Make, data: ContractData, ctx: StageContext, tmp_path: Path) -> None:
        out = self.train(make(), data, ctx, tmp_path / "model")
        assert [p for p in out.rglob("*") if p.is_file()], "the trainer wrote nothing"

    def test_writes_the_same_files_twice(self, make: Make, data: ContractData, ctx: StageContext, tmp_path: Path) -> None:
        first = self.train(make(), data, ctx, tmp_path / "a")
        second = self.train(make(), data, ctx, tmp_path / "b")
        assert sorted(p.relative_to(first) for p in first.rglob("*")) == sorted(p.relative_to(second) for p in second.rglob("*"))

    def test_sees_no_held_out_query(self, make: Make, data: ContractData, ctx: StageContext, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[str] = []
        original = TrainingInput.examples

        def spy(self: TrainingInput, source: str | None = None) -> Any:
            for ex in original(self, source):
                seen.append(ex.query_id)
                yield ex

        monkeypatch.setattr(TrainingInput, "examples", spy)
        self.train(make(), data, ctx, tmp_path / "model")
        held = data.training[0]._excluded
        assert held and not held & set(seen)
