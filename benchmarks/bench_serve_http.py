"""The HTTP half of bench_serve.py: ``rankfw serve`` in a subprocess, rounds of concurrent httpx
clients, and every answer checked against the in-process :meth:`rankfw.Searcher.search`."""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LANG = "en"


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def throughput(out: Path, rounds: list[tuple[int, list[str]]]) -> list[dict[str, Any]]:
    """Wall time, latency and answers of ``rankfw serve`` for each (clients, queries) round."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "rankfw", "serve", str(out), "--port", str(port), "--stage", "fused",
                             "--language", LANG, "--window-ms", "5"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("rankfw serve did not start") from None
                time.sleep(0.5)
        results = []
        for clients, queries in rounds:
            before = httpx.get(url + "/health").json()
            results.append(asyncio.run(_round(url, clients, queries)) | {"clients": clients})
            after = httpx.get(url + "/health").json()
            results[-1]["batches"] = after["batches"] - before["batches"]
            r = results[-1]
            print(f"{clients:>2} client(s): {r['qps']:.2f} q/s, p50 {r['p50'] * 1000:.0f} ms, {r['batches']} batches",
                  flush=True)
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=120)


async def _round(url: str, clients: int, queries: list[str]) -> dict[str, Any]:
    import httpx

    todo = list(enumerate(queries))
    answers: dict[int, Any] = {}
    latencies: list[float] = []

    async def client(http: httpx.AsyncClient) -> None:
        while todo:
            i, q = todo.pop(0)
            start = time.perf_counter()
            r = await http.post("/search", json={"query": q, "k": 10})
            latencies.append(time.perf_counter() - start)
            answers[i] = r.json()["hits"] if r.status_code == 200 else r.status_code

    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        start = time.perf_counter()
        await asyncio.gather(*[client(http) for _ in range(clients)])
        wall = time.perf_counter() - start
    return {"wall": wall, "qps": len(queries) / wall, "p50": pct(latencies, 50), "p95": pct(latencies, 95),
            "answers": [answers[i] for i in range(len(queries))], "queries": queries}


def check(searcher: Any, result: dict[str, Any]) -> dict[str, Any]:
    """How many answers came back (200, 10 hits) and equal the in-process search (docids; scores within 1e-3)."""
    ok = exact = top1 = 0
    for q, hits in zip(result["queries"], result["answers"], strict=True):
        if not isinstance(hits, list) or len(hits) != 10:
            continue
        ok += 1
        mine = searcher.search(q, k=10)
        exact += [h["docid"] for h in hits] == [h.docid for h in mine] and all(
            abs(h["score"] - m.score) <= 1e-3 for h, m in zip(hits, mine, strict=True))
        top1 += hits[0]["docid"] == mine[0].docid
    return {"answered": ok, "exact": exact, "top1": top1}
