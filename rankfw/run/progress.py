"""Progress bars for long work, through rich (shown on a terminal, silent otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """A factory of progress bars (``StageContext.progress``) over one rich Progress display."""

    def __init__(self, console: Console, prefix: str = "") -> None:
        self.console = console
        self.prefix = prefix
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def with_prefix(self, prefix: str) -> RichProgress:
        """The same display, with ``prefix`` before each new bar's description."""
        other = RichProgress.__new__(RichProgress)
        other.console, other.prefix, other._progress = self.console, prefix, self._progress
        return other

    @contextmanager
    def __call__(self, description: str, total: float | None = None) -> Iterator[_Bar]:
        task = self._progress.add_task(f"{self.prefix}{description}", total=total, info="")
        try:
            yield _Bar(self._progress, task)
        finally:
            self._progress.update(task, visible=True)
            self._progress.stop_task(task)


class _Bar:
    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, amount: float = 1, **fields: Any) -> None:
        info = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        if fields:
            self._progress.update(self._task, advance=amount, info=info)
        else:
            self._progress.advance(self._task, amount)
