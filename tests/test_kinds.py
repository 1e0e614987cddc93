"""The kind table drives the spec, the registry, the CLI and both executors' dispatch."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest
import rankfw_testplugin
from pydantic import ValidationError

from rankfw.core import InputError, Run, StageContext, hookspecs
from rankfw.core.kinds import BY_SPEC, HOOKS, KINDS, kind_of
from rankfw.executors.local import LocalExecutor, call_component, invoke
from rankfw.spec.model import StageSpec


def test_every_row_names_a_real_hook_and_the_base_method_it_passes_to() -> None:
    assert sorted(HOOKS.values()) == sorted(n for n in vars(hookspecs) if n.startswith("register_"))
    for row in KINDS:
        params = list(inspect.signature(getattr(row.base, row.method)).parameters)
        assert params == ["self", *row.passes, "ctx"], row
        executor_params = list(inspect.signature(getattr(LocalExecutor, row.method)).parameters)
        assert executor_params == ["self", "component", *row.passes, "ctx"], row
        assert kind_of(row.spec) is row is kind_of(row.component)


@pytest.mark.parametrize(("kind", "inputs", "message"), [
    ("retrieve", ["a"], "a retrieve stage takes no inputs"),
    ("rerank", [], "a rerank stage takes exactly one input stage, got 0"),
    ("rerank", ["a", "b"], "a rerank stage takes exactly one input stage, got 2"),
    ("fuse", [], "a fuse stage needs at least one input stage"),
])
def test_the_spec_takes_the_number_of_inputs_from_the_table(kind: str, inputs: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StageSpec(kind=kind, component="x", inputs=inputs)  # type: ignore[arg-type]
    ok = ["a"] * (BY_SPEC[kind].min_inputs)
    assert StageSpec(kind=kind, component="x", inputs=ok).inputs == ok  # type: ignore[arg-type]


def _ctx(tmp_path: Path) -> StageContext:
    return StageContext("s", "en", tmp_path, tmp_path)


def test_call_component_dispatches_by_kind_and_checks_the_core_guarantees(tmp_path: Path) -> None:
    from rankfw.data.corpus import JsonlCorpus

    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "d1", "text": "cats purr"}\n{"docid": "d2", "text": "dogs bark"}\n', encoding="utf-8")
    corpus = JsonlCorpus(path, tmp_path / "cache")
    topics = {"q1": "cats", "q2": "dogs bark"}
    ex, ctx = LocalExecutor(), _ctx(tmp_path)
    first = call_component("retrieve", ex, rankfw_testplugin.OverlapRetriever(), ctx, topics=topics, corpus=corpus, runs=[])
    assert first["q1"][0][0] == "d1" and first["q2"][0][0] == "d2"
    summed = call_component("fuse", ex, rankfw_testplugin.SumFuser(), ctx, topics=topics, corpus=corpus, runs=[first, first])
    assert summed["q2"][0] == ("d2", 2 * first["q2"][0][1])
    bad = Run.from_scores({"q1": {"zz": 1.0}})
    reranker = rankfw_testplugin.IdfOverlapReranker(rankfw_testplugin.IdfOverlapReranker.Config(model=str(tmp_path)))
    with pytest.raises(InputError, match="1 docid\\(s\\) that are not in the corpus, e.g. 'zz'") as raised:
        call_component("rerank", ex, reranker, ctx, sources=["first/en.run"], topics=topics, corpus=corpus, runs=[bad])
    assert raised.value.where == "first/en.run"
    with pytest.raises(InputError, match="query id\\(s\\) that are not topics, e.g. 'q2'") as raised:
        call_component("fuse", ex, rankfw_testplugin.SumFuser(), ctx, sources=["a.run"], topics={"q1": "cats"}, runs=[first])
    assert raised.value.where == "a.run"

    class Stranger(rankfw_testplugin.SumFuser):
        def fuse(self, runs: Sequence[Run], ctx: StageContext) -> Run:
            return Run.from_scores({"q9": {"d1": 1.0}})

    with pytest.raises(ValueError, match="query id\\(s\\) that are not topics, e.g. 'q9'"):
        call_component("fuse", ex, Stranger(), ctx, topics=topics, runs=[first])
    with pytest.raises(TypeError, match="not a Reranker"):
        invoke("rerank", rankfw_testplugin.SumFuser(), ctx, topics=topics, run=first, corpus=corpus)


def test_the_ray_actor_calls_through_the_same_dispatch(tmp_path: Path) -> None:
    ray_executor = pytest.importorskip("rankfw.executors.ray")
    from rankfw.data.corpus import JsonlCorpus

    path = tmp_path / "corpus.jsonl"
    path.write_text('{"docid": "d1", "text": "cats purr"}\n{"docid": "d2", "text": "dogs bark"}\n', encoding="utf-8")
    corpus = JsonlCorpus(path, tmp_path / "cache")
    cls = rankfw_testplugin.OverlapRetriever
    actor = ray_executor._ComponentActor(cls, cls.Config(), corpus, _ctx(tmp_path), "retrieve")
    out = actor({"qid": ["q1", "q2"], "payload": [pickle.dumps({"topics": "cats"}), pickle.dumps({"topics": "bark"})]})
    assert list(out["qid"]) == ["q1", "q2"] and pickle.loads(out["payload"][0])[0][0] == "d1"


def test_the_key_value_store_round_trips_and_rebuilds_a_damaged_file(tmp_path: Path) -> None:
    from rankfw.core import KeyValueStore

    store = KeyValueStore(tmp_path / "kv.sqlite", "TEXT")
    store.put_many([("a", "1"), ("b", None)])
    store.put_many([("a", "2")])
    assert store.get_many(["a", "b", "c"]) == {"a": "2", "b": None}
    store.close()
    (tmp_path / "kv.sqlite").write_bytes(b"not a database, just junk" * 100)
    lines: list[str] = []
    again = KeyValueStore(tmp_path / "kv.sqlite", "TEXT", log=lines.append)
    assert again.get_many(["a"]) == {} and len(lines) == 1 and "kv.sqlite" in lines[0]
    again.put_many([("a", "3")])
    assert again.get_many(["a"]) == {"a": "3"}
