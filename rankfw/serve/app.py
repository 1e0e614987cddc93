"""The HTTP service (Starlette, served by uvicorn): ``POST /search``, ``GET /health``, ``GET /stages``.

Every error answers ``{"error": "<one line>"}``: 400 for a body that is not a JSON object, 422 for
a field out of range (unknown stage or language, empty query, k <= 0 or above ``max_k``), 503
when the queue is full, 500 naming the stage when a stage fails.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rankfw.core.errors import InputError, RankfwError
from rankfw.search.searcher import WARM_UP_QUERY, Searcher
from rankfw.serve.batcher import Busy, MicroBatcher

FIELDS = ("query", "language", "k", "stage")
MAX_QUERY_CHARS = 4096


class BadRequest(Exception):
    """A request the service refuses: its status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(status: int, reason: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status, headers=headers or None)


def create_app(searcher: Searcher, window_ms: float = 5.0, max_batch: int = 32, queue_size: int = 256,
               max_k: int = 1000, warm_up: bool = True, log: Callable[[str], None] = lambda m: None) -> Starlette:
    """The ASGI app serving ``searcher``'s pipeline (every searchable stage and language)."""
    batcher = MicroBatcher(searcher, window_ms, max_batch, queue_size)
    engine = searcher.engine
    available: dict[str, dict[str, str | None]] = {}
    for stage, languages in engine.servable().items():
        available[stage] = {}
        for lang in languages:
            try:
                engine.check(stage, lang)
                available[stage][lang] = None
            except InputError as e:
                available[stage][lang] = str(e)

    def warm() -> None:
        for stage, languages in available.items():
            for lang, problem in languages.items():
                if problem is None:
                    started = time.perf_counter()
                    try:
                        searcher.with_(stage=stage, language=lang).search(WARM_UP_QUERY, k=1)
                    except RankfwError as e:
                        languages[lang] = str(e)
                    log(f"warm-up {stage} [{lang}]: {time.perf_counter() - started:.2f}s"
                        + (f" ({languages[lang]})" if languages[lang] else ""))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await batcher.start()
        if warm_up:
            await batcher.call(warm)
        yield
        await batcher.stop()

    def parse(body: bytes) -> tuple[str, str, str, int]:
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BadRequest(400, f"malformed JSON: {getattr(e, 'msg', e)}") from None
        if not isinstance(data, dict):
            raise BadRequest(400, 'the body must be a JSON object such as {"query": "...", "language": "de", "k": 10}')
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise BadRequest(422, f"unknown field(s) {', '.join(map(repr, unknown))} (expected {', '.join(FIELDS)})")
        query, stage = data.get("query"), data.get("stage", searcher.stage)
        if not isinstance(query, str):
            raise BadRequest(422, "'query' is required and must be a string")
        if not query.strip():
            raise BadRequest(422, "'query' is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise BadRequest(422, f"'query' is longer than {MAX_QUERY_CHARS} characters")
        if not isinstance(stage, str) or stage not in available:
            raise BadRequest(422, f"unknown stage {stage!r} (searchable: {', '.join(available)})")
        language = data.get("language", searcher.language if searcher.language in available[stage] else None)
        if not isinstance(language, str) or language not in available[stage]:
            raise BadRequest(422, f"unknown language {language!r} for stage {stage!r} (it has {', '.join(available[stage])})")
        if available[stage][language] is not None:
            raise BadRequest(422, str(available[stage][language]))
        k = data.get("k", 10)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
            raise BadRequest(422, f"'k' must be an integer from 1 to {max_k}, got {json.dumps(k)}")
        return query, stage, language, k

    async def search(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            query, stage, language, k = parse(await request.body())
            hits = await batcher.submit(stage, language, query, k)
        except BadRequest as e:
            return _error(e.status, e.reason)
        except Busy as e:
            return _error(503, str(e), **{"Retry-After": "1"})
        except InputError as e:
            return _error(422, str(e))
        except RankfwError as e:
            return _error(500, str(e))
        return JSONResponse({"query": query, "stage": stage, "language": language, "k": k,
                             "hits": [h.as_dict() for h in hits],
                             "took_ms": round((time.perf_counter() - started) * 1000, 3)})

    async def health(request: Request) -> JSONResponse:
        s = batcher.stats
        return JSONResponse({"status": "ok", "queued": batcher.queued, "requests": s.requests, "batches": s.batches,
                             "largest_batch": s.largest_batch, "batch_sizes": {str(n): c for n, c in sorted(s.batch_sizes.items())},
                             "search_seconds": round(s.search_seconds, 4)})

    async def stages(request: Request) -> JSONResponse:
        out: dict[str, Any] = {}
        for name, languages in available.items():
            stage = engine.pipeline.stages[name]
            out[name] = {"kind": stage.spec.kind, "component": stage.component.name, "inputs": stage.spec.inputs,
                         "languages": [lang for lang, problem in languages.items() if problem is None],
                         "unavailable": {lang: problem for lang, problem in languages.items() if problem is not None}}
        return JSONResponse({"default": {"stage": searcher.stage, "language": searcher.language}, "stages": out,
                             "max_k": max_k})

    routes = [Route("/search", search, methods=["POST"]), Route("/health", health, methods=["GET"]),
              Route("/stages", stages, methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)
