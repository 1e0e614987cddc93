"""`rankfw serve`: a real server on 127.0.0.1 in a subprocess, talked to with httpx."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankfw import Pipeline, Searcher
from rankfw.core import read_topics

httpx = pytest.importorskip("httpx")

STAGES = {
    "first": {"kind": "retrieve", "component": "overlap", "params": {"k": 30}},
    "first_ho": {"kind": "retrieve", "component": "overlap", "params": {"k": 30}, "topics": "heldout"},
    "idf": {"kind": "train", "component": "idf"},
    "re": {"kind": "rerank", "component": "idf-overlap", "inputs": ["first"], "params": {"model": "stage:idf", "k": 20}},
    "fused": {"kind": "fuse", "component": "sum", "inputs": ["first", "re"]},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rankfw.testing import xquad_data

    tmp = tmp_path_factory.mktemp("serve")
    spec = {"name": "serve", "output": str(tmp / "out"), "cache": str(tmp / "cache"),
            "dataset": {"root": str(xquad_data()), "languages": ["en", "de"], "corpus": "{root}/{lang}/corpus.jsonl",
                        "topics": "{root}/{lang}/topics.dev.tsv", "qrels": "{root}/{lang}/qrels.dev.txt",
                        "train": "{root}/{lang}/train.jsonl.gz", "holdout": 0.2},
            "stages": STAGES}
    Pipeline.from_dict(spec).run()
    return tmp / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``rankfw serve ARGS`` on a free port of 127.0.0.1, stopped (SIGTERM) at the end."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "rankfw", "serve", *args, "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.proc.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("the server did not start")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def server(trained: Path) -> Iterator[Server]:
    s = Server(str(trained), "--window-ms", "20", "--max-k", "100")
    yield s
    s.stop()


def _queries(lang: str, n: int) -> list[str]:
    from rankfw.testing import xquad_data

    return list(read_topics(xquad_data() / lang / "topics.dev.tsv").values())[:n]


def test_search_answers_what_the_searcher_answers(server: Server, trained: Path) -> None:
    searcher = Searcher.from_output(trained)
    for stage in ("first", "re", "fused"):
        for lang in ("en", "de"):
            for query in _queries(lang, 3):
                r = httpx.post(server.url + "/search", json={"query": query, "language": lang, "k": 7, "stage": stage})
                assert r.status_code == 200, r.text
                body = r.json()
                expected = [h.as_dict() for h in searcher.with_(stage=stage, language=lang).search(query, k=7)]
                assert body["hits"] == expected and len(expected) == 7
                assert (body["stage"], body["language"], body["k"]) == (stage, lang, 7)
    default = httpx.post(server.url + "/search", json={"query": "Super Bowl"}).json()
    assert (default["stage"], default["language"], len(default["hits"])) == ("fused", "en", 10)


def test_stages_and_health(server: Server) -> None:
    stages = httpx.get(server.url + "/stages").json()
    assert stages["default"] == {"stage": "fused", "language": "en"}
    assert set(stages["stages"]) == {"first", "re", "fused"}  # not the train stage, not the heldout one
    assert stages["stages"]["re"]["languages"] == ["en", "de"] and stages["stages"]["re"]["component"] == "idf-overlap"
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["queued"] == 0


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b'{"query": "x", ', 400, "malformed JSON"),
    (b"\xff\xfe", 400, "malformed JSON"),
    (b'["x"]', 400, "must be a JSON object"),
    (b'{"query": "x", "language": "fr"}', 422, "unknown language 'fr' for stage 'fused' \\(it has en, de\\)"),
    (b'{"query": "x", "k": 0}', 422, "'k' must be an integer from 1 to 100, got 0"),
    (b'{"query": "x", "k": -3}', 422, "got -3"),
    (b'{"query": "x", "k": 1000000}', 422, "from 1 to 100, got 1000000"),
    (b'{"query": "x", "k": "5"}', 422, "'k' must be an integer"),
    (b'{"query": ""}', 422, "'query' is empty"),
    (b'{"query": "   "}', 422, "'query' is empty"),
    (b'{"language": "en"}', 422, "'query' is required"),
    (b'{"query": "x", "stage": "idf"}', 422, "unknown stage 'idf'"),
    (b'{"query": "x", "lang": "de"}', 422, "unknown field\\(s\\) 'lang'"),
])
def test_bad_requests_get_a_4xx_with_a_one_line_reason(server: Server, body: bytes, status: int, reason: str) -> None:
    r = httpx.post(server.url + "/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    error = r.json()["error"]
    assert "\n" not in error
    import re

    assert re.search(reason, error), error
    assert httpx.get(server.url + "/search").status_code == 405


def test_fifty_concurrent_requests_all_answer_rightly_in_micro_batches(server: Server, trained: Path) -> None:
    queries = [(lang, q) for lang in ("en", "de") for q in _queries(lang, 25)]
    before = httpx.get(server.url + "/health").json()

    async def ask_all() -> list:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            return await asyncio.gather(*[client.post("/search", json={"query": q, "language": lang, "k": 5})
                                          for lang, q in queries])

    answers = asyncio.run(ask_all())
    assert [a.status_code for a in answers] == [200] * 50
    searcher = Searcher.from_output(trained)
    expected = {lang: searcher.with_(language=lang).search_many([q for ql, q in queries if ql == lang], k=5)
                for lang in ("en", "de")}
    got = {lang: [a.json()["hits"] for a, (ql, _) in zip(answers, queries) if ql == lang] for lang in ("en", "de")}
    for lang in ("en", "de"):
        assert got[lang] == [[h.as_dict() for h in hits] for hits in expected[lang]]
    after = httpx.get(server.url + "/health").json()
    assert after["requests"] - before["requests"] == 50
    assert after["batches"] - before["batches"] < 50 and after["largest_batch"] > 1  # they were batched


def test_a_full_queue_answers_503_and_sigterm_drains_in_flight_requests(trained: Path) -> None:
    slow = Server(str(trained / "spec.yaml"), "--set", "stages.first.params.seconds_per_query=0.4",
                  "--queue-size", "2", "--max-batch", "1", "--window-ms", "0")

    async def burst() -> list:
        async with httpx.AsyncClient(base_url=slow.url, timeout=60) as client:
            tasks = [asyncio.create_task(client.post("/search", json={"query": f"Super Bowl {i}", "stage": "first"}))
                     for i in range(8)]
            return await asyncio.gather(*tasks)

    try:
        codes = sorted(r.status_code for r in asyncio.run(burst()))
        assert 200 in codes and 503 in codes and set(codes) == {200, 503}
        assert codes.count(200) <= 4  # one being ranked, two queued (give or take one that finished early)

        async def in_flight_then_sigterm() -> list:
            async with httpx.AsyncClient(base_url=slow.url, timeout=60) as client:
                tasks = [asyncio.create_task(client.post("/search", json={"query": q, "stage": "first"}))
                         for q in ("Super Bowl", "the Super Bowl 50 game")]
                await asyncio.sleep(0.2)
                slow.proc.send_signal(signal.SIGTERM)
                return await asyncio.gather(*tasks)

        answers = asyncio.run(in_flight_then_sigterm())
        assert [a.status_code for a in answers] == [200, 200]
        assert all(len(a.json()["hits"]) == 10 for a in answers)
        assert slow.proc.wait(timeout=60) == 0
        with pytest.raises(httpx.TransportError):
            httpx.get(slow.url + "/health", timeout=2)
    finally:
        slow.stop()


def test_serve_without_a_trained_model_fails_in_one_line(tmp_path: Path, trained: Path) -> None:
    spec = trained / "spec.yaml"
    done = subprocess.run([sys.executable, "-m", "rankfw", "serve", str(spec), "--stage", "re", "--set",
                           f"output={tmp_path / 'empty'}", "--port", str(free_port())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "needs the trained model of stage 'idf'" in done.stderr and "Traceback" not in done.stderr
