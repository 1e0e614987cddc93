"""Searcher: one query through a trained pipeline's stages ranks as the batch run does; `rankfw search`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rankfw import Pipeline, Searcher
from rankfw.cli import main
from rankfw.core import InputError, JsonlCorpus, Run, read_topics

REPO = Path(__file__).resolve().parents[1]


def spec_for(xquad: Path, out: Path, cache: Path, model: Path) -> dict:
    """A quickstart-sized pipeline: a first stage, a bi-encoder over it, fusion with tuned weights."""
    bi = {"model": str(model), "max_length": 128}
    return {
        "name": "search", "output": str(out), "cache": str(cache),
        "dataset": {"root": str(xquad), "languages": ["en", "de"], "corpus": "{root}/{lang}/corpus.jsonl",
                    "topics": "{root}/{lang}/topics.dev.tsv", "qrels": "{root}/{lang}/qrels.dev.txt",
                    "train": "{root}/{lang}/train.jsonl.gz", "holdout": 0.3},
        "stages": {
            "first": {"kind": "retrieve", "component": "overlap", "params": {"k": 30}},
            "first_ho": {"kind": "retrieve", "component": "overlap", "params": {"k": 30}, "topics": "heldout"},
            "bi": {"kind": "rerank", "component": "biencoder", "inputs": ["first"], "params": bi},
            "bi_ho": {"kind": "rerank", "component": "biencoder", "inputs": ["first_ho"], "params": bi, "topics": "heldout"},
            "tune": {"kind": "train", "component": "fusion-weights", "inputs": ["first_ho", "bi_ho"], "topics": "heldout",
                     "params": {"step": 0.25, "per_language": True}},
            "fused": {"kind": "fuse", "component": "weighted", "inputs": ["first", "bi"], "params": {"weights": "stage:tune"}},
            "rrf": {"kind": "fuse", "component": "rrf", "inputs": ["first", "bi"]},
        },
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankfw_biencoder_distill.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-bi"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """A finished run folder of :func:`spec_for` (the default registry: its plugins are installed)."""
    from rankfw.testing import xquad_data

    tmp = tmp_path_factory.mktemp("search")
    Pipeline.from_dict(spec_for(xquad_data(), tmp / "out", tmp / "cache", tiny_model)).run()
    return tmp / "out"


def assert_same_ranking(hits: list, expected: list[tuple[str, float]], tol: float = 1e-5) -> None:
    """The same docids and scores in the same order, up to swaps of near-tied scores."""
    assert len(hits) == len(expected)
    got = {h.docid: h.score for h in hits}
    want = dict(expected)
    assert got.keys() == want.keys()
    for docid, score in want.items():
        assert got[docid] == pytest.approx(score, abs=tol)
    for h, (docid, score) in zip(hits, expected):
        assert h.docid == docid or abs(h.score - score) <= tol


def test_search_equals_the_batch_run_for_every_dev_question(trained: Path, tmp_path: Path) -> None:
    from rankfw.testing import xquad_data

    weights = json.loads((trained / "stages" / "tune" / "model" / "weights.json").read_text())
    assert set(weights["per_language"]) == {"en", "de"}  # the fused stage reads each language's own weights
    searcher = Searcher.from_output(trained, stage="fused", language="de", cache=tmp_path / "fresh-cache")
    for lang in ("en", "de"):
        topics = read_topics(xquad_data() / lang / "topics.dev.tsv")
        for stage in ("first", "bi", "fused", "rrf"):
            batch = Run.read_trec(trained / "stages" / stage / f"{lang}.run")
            s = searcher.with_(stage=stage, language=lang)
            if (stage, lang) == ("fused", "de"):  # one query at a time, nothing cached: the serving path
                results = [s.search(q, k=1000) for q in topics.values()]
            else:
                results = s.search_many(list(topics.values()), k=1000)
            assert len(results) == len(topics)
            for qid, hits in zip(topics, results):
                assert_same_ranking(hits, batch[qid])
    assert len({id(c) for c in searcher.engine._components.values()}) == len(searcher.engine._components)
    # one bi-encoder component serves both languages (one model loaded)
    assert sum("BiEncoder" in key[0] for key in searcher.engine._components) == 1


def test_hits_carry_the_passages_and_k_cuts(trained: Path) -> None:
    searcher = Searcher.from_output(trained, language="en")
    assert set(searcher.engine.servable()) == {"first", "bi", "fused", "rrf"}
    assert searcher.stage == list(searcher.engine.servable())[-1] and searcher.language == "en"  # the last one run
    hits = searcher.search("Which NFL team represented the AFC at Super Bowl 50?", k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    corpus = JsonlCorpus(REPO / "data" / "xquad" / "en" / "corpus.jsonl", trained.parent / "cache")
    docs = corpus.get_many([h.docid for h in hits])
    assert all((h.title, h.text) == (docs[h.docid].title, docs[h.docid].text) for h in hits)
    assert searcher.search("Which NFL team represented the AFC at Super Bowl 50?", k=2) == hits[:2]
    assert hits[0].as_dict()["docid"] == hits[0].docid
    assert searcher.search_many([]) == []


@pytest.mark.parametrize(("stage", "language", "message"), [
    ("nope", "en", "'nope' cannot be searched: it is not a stage"),
    ("tune", "en", "'tune' cannot be searched: a train stage makes a model"),
    ("bi_ho", "en", "'bi_ho' cannot be searched: it ranks the heldout topics"),
    ("fused", "fr", "stage 'fused' has no language 'fr' \\(it has en, de\\)"),
])
def test_unsearchable_stages_and_languages_say_why(trained: Path, stage: str, language: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Searcher.from_output(trained, stage=stage, language=language)


def test_bad_queries_and_missing_models_are_one_line_errors(trained: Path, tmp_path: Path, tiny_model: Path) -> None:
    searcher = Searcher.from_output(trained, stage="bi", language="en")
    for query, message in [("", "the query is empty"), ("  \t ", "the query is empty"), (3, "must be a string")]:
        with pytest.raises(InputError, match=message):
            searcher.search(query)  # type: ignore[arg-type]
    for k in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="k must be a positive integer"):
            searcher.search("a question", k=k)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="list of queries"):
        searcher.search_many("one string")  # type: ignore[arg-type]
    untrained = Pipeline.from_dict(spec_for(REPO / "data" / "xquad", tmp_path / "empty", tmp_path / "c", tiny_model))
    with pytest.raises(InputError, match="needs the trained model of stage 'tune'.*run 'rankfw run' first"):
        untrained.searcher(stage="fused", language="en")
    assert untrained.searcher(stage="rrf", language="en").search("Super Bowl", k=3)  # nothing to train: it works
    with pytest.raises(InputError, match="not an output folder"):
        Searcher.from_output(tmp_path)


def test_a_component_that_cannot_rank_one_query_says_so(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rankfw_fusion.rrf import RRFFuser

    monkeypatch.setattr(RRFFuser, "single_query", False, raising=False)
    monkeypatch.setattr(RRFFuser, "single_query_reason", "it needs every query at once", raising=False)
    searcher = Searcher.from_output(trained, stage="rrf", language="en")
    with pytest.raises(InputError, match="stage 'rrf' \\(rrf\\) cannot rank single queries: it needs every query at once"):
        searcher.search("Super Bowl")


def test_rankfw_search_prints_a_table_and_json(trained: Path) -> None:
    query = "Wer gewann den Super Bowl 50?"
    expected = Searcher.from_output(trained, stage="fused", language="de").search(query, k=4)
    cli = CliRunner()
    out = cli.invoke(main, ["search", str(trained), "--stage", "fused", "--language", "de", "-k", "4", "--json", query])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["stage"] == "fused" and [h["docid"] for h in data["hits"]] == [h.docid for h in expected]
    assert [h["score"] for h in data["hits"]] == pytest.approx([h.score for h in expected])
    table = cli.invoke(main, ["search", str(trained), "--stage", "fused", "--language", "de", "-k", "4", query])
    assert table.exit_code == 0 and all(h.docid in table.output for h in expected)
    assert "fused [de]" in table.output
    bad = cli.invoke(main, ["search", str(trained), "--language", "xx", query])
    assert bad.exit_code == 2 and "has no language 'xx'" in bad.output and "Traceback" not in bad.output


@pytest.mark.slow
def test_search_equals_rankfw_run_with_bm25_and_the_bundled_e5(tmp_path: Path) -> None:
    """The quickstart (real BM25 -> bundled multilingual-e5-small -> RRF) in German: `rankfw run`,
    then the Searcher in a fresh process on a few dev questions."""
    out = tmp_path / "out"
    env_cache = ["--cache", str(tmp_path / "cache")]
    subprocess.run([sys.executable, "-m", "rankfw", "run", str(REPO / "examples" / "quickstart.yaml"), "--out", str(out),
                    "--set", f"dataset.root={REPO / 'data' / 'xquad'}", "--set", "dataset.languages=[de]", *env_cache],
                   check=True, capture_output=True, cwd=tmp_path)
    topics = dict(list(read_topics(REPO / "data" / "xquad" / "de" / "topics.dev.tsv").items())[:8])
    code = (
        "import json, sys; from rankfw import Searcher\n"
        f"s = Searcher.from_output({str(out)!r}, language='de', cache={str(tmp_path / 'fresh')!r})\n"
        "queries = json.loads(sys.stdin.read())\n"
        "print(json.dumps({st: [[(h.docid, h.score) for h in s.with_(stage=st).search(q, k=100)] for q in queries]"
        " for st in ('bm25', 'e5', 'rrf')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(list(topics.values())), capture_output=True,
                          text=True, check=True, cwd=tmp_path)
    found = json.loads(done.stdout)
    for stage in ("bm25", "e5", "rrf"):
        batch = Run.read_trec(out / "stages" / stage / "de.run")
        for qid, hits in zip(topics, found[stage]):
            assert_same_ranking([_Hit(d, s) for d, s in hits], batch[qid], tol=1e-4)


class _Hit:
    def __init__(self, docid: str, score: float) -> None:
        self.docid, self.score = docid, score


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (random weights, WordPiece on the English data) with a fresh 1-logit head, scaled
    so that scores spread over about one unit (a fresh head's are within 1e-3 of each other)."""
    import torch
    from rankfw_crossencoder_nmt.training.loop import load_for_training

    from rankfw.testing.tiny_models import tiny_bert, xquad_texts

    encoder = tiny_bert(tmp_path_factory.mktemp("tiny-enc"), xquad_texts(["en"], queries="train"), seed=0,
                        min_frequency=1, max_positions=160)
    folder = tmp_path_factory.mktemp("tiny-ce")
    model, tokenizer = load_for_training(str(encoder), seed=1)
    with torch.no_grad():
        model.classifier.weight *= 1000.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_int8_cross_encoder_scores_a_query_alike_alone_batched_and_in_the_batch_run(
        tiny_cross_encoder: Path, tmp_path: Path) -> None:
    """ONNX int8 is static (scales calibrated on corpus pairs): a pair's score does not depend on the
    pairs it is batched with, so ``search``, ``search_many`` (what ``rankfw serve`` micro-batches) and
    ``rankfw run`` agree up to float noise. Dynamic int8 (one activation scale per forward pass) did not."""
    from rankfw.testing import xquad_data

    spec = {
        "name": "int8", "output": str(tmp_path / "out"), "cache": str(tmp_path / "cache"),
        "dataset": {"root": str(xquad_data()), "languages": ["en"], "corpus": "{root}/{lang}/corpus.jsonl",
                    "topics": "{root}/{lang}/topics.dev.tsv", "qrels": "{root}/{lang}/qrels.dev.txt"},
        "stages": {
            "first": {"kind": "retrieve", "component": "overlap", "params": {"k": 20}},
            "ce": {"kind": "rerank", "component": "crossencoder", "inputs": ["first"],
                   "params": {"model": str(tiny_cross_encoder), "k": 10, "max_length": 96, "batch_size": 16,
                              "backend": "onnx", "precision": "int8", "int8_outlier_ratio": 1e9, "num_threads": 1}},
        },
    }
    Pipeline.from_dict(spec).run()
    batch = Run.read_trec(tmp_path / "out" / "stages" / "ce" / "en.run")
    quantized = list((tmp_path / "cache" / "onnx").glob("*/int8-static-*/model.onnx"))
    assert len(quantized) == 1  # every linear layer of the stack in int8, one calibrated model
    searcher = Searcher.from_output(tmp_path / "out", stage="ce", language="en")
    topics = dict(list(read_topics(xquad_data() / "en" / "topics.dev.tsv").items())[:24])
    together = searcher.search_many(list(topics.values()), k=10)  # 24 queries' pairs in shared batches
    alone = [searcher.search(q, k=10) for q in topics.values()]
    gaps = [s - t for qid in topics for (_, s), (_, t) in zip(batch[qid], batch[qid][1:])]
    assert sorted(gaps)[len(gaps) // 2] > 1e-3  # most neighbours are not tied: equality below means something
    for qid, many, one in zip(topics, together, alone):
        assert_same_ranking(one, batch[qid], tol=1e-5)
        assert_same_ranking(many, batch[qid], tol=1e-5)
