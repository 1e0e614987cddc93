"""Progress bars for long work: rich bars on a terminal; in a batch job (stderr not a terminal)
plain lines, at most one every 30 s per bar, so that a Slurm log shows progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_INTERVAL_S = 30.0
"""Seconds between two plain progress lines of one bar."""


class RichProgress:
    """A factory of progress bars (``StageContext.progress``) over one rich Progress display, or
    plain lines when the console is not a terminal (``enabled=False``: nothing at all)."""

    def __init__(self, console: Console, prefix: str = "", enabled: bool = True,
                 interval: float = PLAIN_INTERVAL_S) -> None:
        self.console = console
        self.prefix = prefix
        self.enabled = enabled
        self.interval = interval
        self.plain = enabled and not console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=False,
            disable=not (enabled and console.is_terminal),
        )

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def with_prefix(self, prefix: str) -> RichProgress:
        """The same display, with ``prefix`` before each new bar's description."""
        other = RichProgress.__new__(RichProgress)
        other.__dict__.update(self.__dict__)
        other.prefix = prefix
        return other

    @contextmanager
    def __call__(self, description: str, total: float | None = None) -> Iterator[Any]:
        if self.plain:
            bar = PlainBar(self.console, f"{self.prefix}{description}", total, self.interval)
            try:
                yield bar
            finally:
                bar.finish()
            return
        task = self._progress.add_task(escape(f"{self.prefix}{description}"), total=total, info="")
        try:
            yield _Bar(self._progress, task)
        finally:
            self._progress.update(task, visible=True)
            self._progress.stop_task(task)


def _fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, amount: float = 1, **fields: Any) -> None:
        if fields:
            self._progress.update(self._task, advance=amount, info=_fields(fields))
        else:
            self._progress.advance(self._task, amount)


class PlainBar:
    """A progress bar as plain lines: ``desc: done/total (rate/s, ETA 1m20s) loss=0.31``, at most
    one every ``interval`` seconds, and one when it ends (if it printed any before)."""

    def __init__(self, console: Console, description: str, total: float | None, interval: float,
                 clock: Any = time.monotonic) -> None:
        self.console, self.description, self.total, self.interval, self.clock = console, description, total, interval, clock
        self.start = self.last = clock()
        self.done = 0.0
        self.fields: dict[str, Any] = {}
        self.printed = 0

    def advance(self, amount: float = 1, **fields: Any) -> None:
        self.done += amount
        self.fields.update(fields)
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._print(now)

    def finish(self) -> None:
        if self.printed:
            self._print(self.clock(), final=True)

    def line(self, now: float, final: bool = False) -> str:
        """The text of one progress line at time ``now``."""
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done:g}/{self.total:g}" if self.total else f"{self.done:g}"
        if final:
            timing = f"done in {_clock(elapsed)}"
        elif self.total and rate > 0:
            timing = f"{rate:.3g}/s, ETA {_clock((self.total - self.done) / rate)}"
        else:
            timing = f"{rate:.3g}/s"
        extra = f" {_fields(self.fields)}" if self.fields else ""
        return f"{self.description}: {count} ({timing}){extra}"

    def _print(self, now: float, final: bool = False) -> None:
        self.printed += 1
        self.console.print(escape(self.line(now, final)), highlight=False, soft_wrap=True)


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
