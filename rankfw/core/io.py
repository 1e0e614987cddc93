"""Small file helpers: atomic writes, gzip-aware line reading with file:line errors, hashing."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from rankfw.core.errors import InputError, file_line


def default_cache_dir() -> Path:
    """The cache shared by all runs: ``$RANKFW_CACHE``, else ``~/.cache/rankfw``."""
    env = os.environ.get("RANKFW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rankfw"


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` (never half-written)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


def replace_dir(tmp_dir: Path, target: Path) -> None:
    """Move a finished directory ``tmp_dir`` into place at ``target`` (replacing an old one)."""
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(tmp_dir, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp_dir, target)


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a text or gzipped file (UTF-8, line endings stripped).

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
    """The file's SHA-256, remembered by (path, size, mtime) so a large file is hashed once."""
    stat = path.stat()
    key = text_digest(str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns))
    memo = cache_dir / "digests" / key
    if memo.exists():
        return memo.read_text().strip()
    digest = file_digest(path)
    atomic_write_text(memo, digest)
    return digest

