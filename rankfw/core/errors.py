"""The error types of rankfw: one for bad input, one for a failed stage."""

from __future__ import annotations

import errno
import os


class RankfwError(Exception):
    """Base of every error rankfw raises on purpose."""


class InputError(RankfwError):
    """Bad input: a file, a spec or a parameter. The CLI exits with code 2.

    ``where`` names the place: ``corpus.jsonl:17`` or ``stages.ce.params.batch_size
    (pipeline.yaml:14)``; the message is printed as ``where: message``.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class StageError(RankfwError):
    """A stage that failed while running. The CLI exits with code 1."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(f"stage {stage!r} failed: {message}")


def file_line(path: object, line: int | None = None) -> str:
    """Format a ``file:line`` location for an error message."""
    return f"{path}:{line}" if line is not None else str(path)


_BAD_PATH = {errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP}
"""OSErrors that mean a path the user gave is wrong (exit 2); others are the machine's (exit 1)."""


def describe_os_error(error: OSError) -> tuple[str, int]:
    """``("PATH: reason", exit code)`` for an OSError: which file the system refused, and why."""
    reason = error.strerror or type(error).__name__
    paths = [p for p in (error.filename, error.filename2) if p is not None]
    where = " -> ".join(os.fsdecode(p) for p in paths)
    message = f"{where}: {reason}" if where else f"{reason} ({error})"
    return message, 2 if error.errno in _BAD_PATH else 1
