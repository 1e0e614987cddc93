"""The one definition of a model's identity, for cache keys (embeddings, translations, indexes)."""

from __future__ import annotations

from pathlib import Path

from rankfw.core.io import cached_file_digest, file_digest, text_digest


def model_identity(ref: str, cache_dir: Path | None = None) -> str:
    """A string that changes exactly when the model's content changes: a hub id as it is; a local
    folder as a digest of every file's relative path and content (so a retrained or replaced model
    invalidates caches, and a copied one does not). With ``cache_dir`` the file digests are
    memoised there (by path, size and mtime), so a large model is hashed once."""
    folder = Path(ref)
    if not folder.is_dir():
        return ref
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = (lambda p: cached_file_digest(p, cache_dir)) if cache_dir is not None else file_digest
    return text_digest(*(f"{p.relative_to(folder)}:{digest(p)}" for p in files))
