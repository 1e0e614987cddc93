"""Micro-batching: concurrent requests that arrive within a few milliseconds are ranked in one pass.

Requests wait in a bounded queue (full: :class:`Busy`, answered 503). One task takes the first
waiting request, collects more for up to ``window_ms`` (or until ``max_batch``), groups them by
stage and language and hands each group to :meth:`rankfw.search.Searcher.search_many`, so every
stage - each reranker's model included - scores the whole group in one batch. The searches run
on one worker thread, one group at a time; requests that arrive meanwhile form the next batch, so
batches grow with the load.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rankfw.search.searcher import Hit, Searcher


class Busy(Exception):
    """The queue is full."""


@dataclass
class _Request:
    stage: str
    language: str
    query: str
    k: int
    future: asyncio.Future[list[Hit]]


@dataclass
class Stats:
    """What the batcher has done (for ``GET /health``)."""

    requests: int = 0
    batches: int = 0
    largest_batch: int = 0
    search_seconds: float = 0.0
    batch_sizes: dict[int, int] = field(default_factory=dict)


class MicroBatcher:
    """Queues search requests and ranks them in micro-batches on one worker thread."""

    def __init__(self, searcher: Searcher, window_ms: float = 5.0, max_batch: int = 32, queue_size: int = 256) -> None:
        self.searcher = searcher
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self.queue_size = queue_size
        self.stats = Stats()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rankfw-search")
        self._queue: asyncio.Queue[_Request | None] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the worker thread (where every search runs)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Answer every queued request, then stop the worker."""
        if self._queue is not None and self._task is not None:
            await self._queue.put(None)
            await self._task
        self.pool.shutdown(wait=True)

    async def submit(self, stage: str, language: str, query: str, k: int) -> list[Hit]:
        """The hits of one query, ranked in whatever batch it lands in; :class:`Busy` when the queue is full."""
        assert self._queue is not None, "start() the batcher first"
        future: asyncio.Future[list[Hit]] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Request(stage, language, query, k, future))
        except asyncio.QueueFull:
            raise Busy(f"the server is busy ({self._queue.qsize()} requests queued): retry later") from None
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.window
            while len(batch) < self.max_batch:
                item: _Request | None
                try:
                    left = deadline - time.monotonic()
                    item = self._queue.get_nowait() if left <= 0 else await asyncio.wait_for(self._queue.get(), left)
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._answer(batch)
        while self._queue.qsize():  # requests that came after the stop signal still get answered
            item = self._queue.get_nowait()
            if item is not None:
                await self._answer([item])

    async def _answer(self, batch: list[_Request]) -> None:
        self.stats.requests += len(batch)
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        self.stats.batch_sizes[len(batch)] = self.stats.batch_sizes.get(len(batch), 0) + 1
        groups: dict[tuple[str, str], list[_Request]] = {}
        for request in batch:
            groups.setdefault((request.stage, request.language), []).append(request)
        for (stage, language), requests in groups.items():
            started = time.perf_counter()
            try:
                searcher = self.searcher.with_(stage=stage, language=language)
                hits = await self.call(searcher.search_many, [r.query for r in requests], max(r.k for r in requests))
            except Exception as e:  # noqa: BLE001 - every request of the group gets the error
                for r in requests:
                    if not r.future.done():
                        r.future.set_exception(e)
                continue
            finally:
                self.stats.search_seconds += time.perf_counter() - started
            for r, found in zip(requests, hits, strict=True):
                if not r.future.done():
                    r.future.set_result(found[: r.k])
