"""Small file helpers: atomic writes, gzip-aware line reading with file:line errors, hashing."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from rankfw.core.errors import InputError, file_line

BOM = "\ufeff"
"""The UTF-8 byte order mark some editors (and Excel) put at the start of a text file."""

cache_log = logging.getLogger("rankfw.cache")
"""Where a rebuilt cache entry is reported (one warning line naming the entry)."""


def default_cache_dir() -> Path:
    """The cache shared by all runs: ``$RANKFW_CACHE``, else ``~/.cache/rankfw``."""
    env = os.environ.get("RANKFW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rankfw"


def scratch_prefix(target: Path) -> str:
    """The name prefix of a temporary sibling of ``target``: ``.NAME.HOST-PID.`` (this process's).

    The host and process id let :func:`sweep_scratch` tell a killed writer's leftovers from a
    live writer's temporaries.
    """
    return f".{target.name}.{socket.gethostname()}-{os.getpid()}."


def sweep_scratch(target: Path) -> list[Path]:
    """Delete temporaries beside ``target`` left by writers on this host that no longer run.

    A killed run leaves ``.NAME.HOST-PID.*.tmp`` files or folders (and a ``.NAME.old`` from an
    interrupted :func:`replace_dir`); they are removed the next time ``target`` is written. A
    temporary of a live process, or of another host, is left alone. Returns what was removed.
    """
    pattern = re.compile(re.escape(f".{target.name}.{socket.gethostname()}-") + r"(\d+)\..*\.tmp$")
    removed = []
    with suppress(OSError):
        for sibling in target.parent.iterdir():
            match = pattern.match(sibling.name)
            if match and not _alive(int(match.group(1))):
                remove_path(sibling)
                removed.append(sibling)
        old = target.with_name(f".{target.name}.old")
        if (old.exists() or old.is_symlink()) and (target.exists() or target.is_symlink()):
            remove_path(old)  # replace_dir was killed after the new one was in place
            removed.append(old)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def scratch_dir(target: Path) -> Path:
    """A new empty temporary folder beside ``target`` (stale ones swept), with the user's umask."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_scratch(target)
    tmp = Path(tempfile.mkdtemp(prefix=scratch_prefix(target), suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700; outputs are shared like any other
    return tmp


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` (never half-written)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_scratch(target)
    fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(target), suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the user's umask
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def remove_path(path: Path) -> None:
    """Delete a file, a directory tree or a symbolic link; a link is removed, never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def replace_dir(tmp_dir: Path, target: Path) -> None:
    """Move a finished directory ``tmp_dir`` into place at ``target`` (replacing an old one).

    ``tmp_dir`` must be a sibling of ``target``. A ``target`` (or a leftover ``.NAME.old``) that
    is a symbolic link is replaced as a link: what it points to is never written or deleted.
    """
    if target.is_symlink() or target.exists():
        old = target.with_name(f".{target.name}.old")
        remove_path(old)
        os.replace(target, old)
        os.replace(tmp_dir, target)
        remove_path(old)
    else:
        os.replace(tmp_dir, target)


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a text or gzipped file (UTF-8, line endings stripped).

    A UTF-8 byte order mark at the start of the file is dropped (it is not part of the first id).
    Non-UTF-8 bytes and truncated or corrupt gzip data become an :class:`InputError` that names
    the file and the line where reading failed.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found" if not p.exists() else "not a file", str(p))
    lineno = 0
    try:
        with gzip.open(p, "rb") if p.suffix == ".gz" else open(p, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(f"not valid UTF-8 text ({e.reason} at byte {e.start})", file_line(path, lineno)) from None
                if lineno == 1:
                    line = line.removeprefix(BOM)
                yield lineno, line.rstrip("\n").rstrip("\r")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InputError(f"corrupt or truncated gzip data ({e})", file_line(path, lineno + 1)) from None


def file_digest(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def text_digest(*parts: str) -> str:
    """SHA-256 (hex) of text parts, separated so that ("ab", "c") differs from ("a", "bc")."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def cached_file_digest(path: Path, cache_dir: Path) -> str:
    """The file's SHA-256, remembered so that a large file is hashed once.

    The memo is keyed by the path, size, mtime *and* inode, device and ctime: a file replaced with
    the same size and mtime (``cp -p``, ``rsync -t``) still changes its ctime (which no program
    can set back), so it is hashed again. A damaged memo is ignored and rewritten; one that cannot
    be written (a read-only cache) only costs hashing again next time.
    """
    stat = path.stat()
    key = text_digest(str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns), str(stat.st_ino),
                      str(stat.st_dev), str(stat.st_ctime_ns))
    memo = cache_dir / "digests" / key
    with suppress(OSError, UnicodeDecodeError):
        remembered = memo.read_text(encoding="utf-8").strip()
        if _is_digest(remembered):
            return remembered
        cache_log.warning("cache entry %s: damaged digest memo; hashing %s again", memo, path)
    digest = file_digest(path)
    with suppress(OSError):
        atomic_write_text(memo, digest + "\n")
    return digest


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def sqlite_damage(path: Path) -> str | None:
    """Why the SQLite file at ``path`` is damaged (truncated, not SQLite), or ``None`` if it looks whole.

    Cheap: reads the 100-byte header and compares the page count it records with the file size,
    which catches a truncated or overwritten file without reading the database.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if size == 0:
        return None  # SQLite's own empty database
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return "not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages, valid_for = (int.from_bytes(header[i : i + 4], "big") for i in (24, 28, 92))
    if change_counter == valid_for and pages and size < pages * page_size:
        return f"truncated ({size} of {pages * page_size} bytes)"
    if size % page_size:
        return f"truncated ({size} bytes is not a whole number of {page_size}-byte pages)"
    return None
