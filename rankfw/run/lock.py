"""One ``rankfw run`` at a time per output folder: an advisory lock on ``OUT/.rankfw.lock``.

Two runs writing one output folder would interleave their stages' records and spec copies; the
second one is refused (exit 2) while the first holds the lock. The lock is the kernel's
(``flock``): a run that is killed, even with ``SIGKILL``, releases it, so the next run resumes.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from rankfw.core.errors import InputError

LOCK_FILE = ".rankfw.lock"


class OutputLock:
    """Holds the output folder's lock for a ``with`` block; :class:`InputError` when another run has it."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # not POSIX (Windows): no flock, so no lock
            return self
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            raise InputError(f"cannot create the output folder's lock file ({e.strerror})", str(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise InputError(f"another rankfw run (pid {holder}) is writing this output folder: "
                             "wait for it to end, or give another --out", str(self.path.parent)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self.fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None
