"""The one definition of a model's identity, for cache keys (embeddings, translations, indexes)."""

from __future__ import annotations

import re
from contextlib import suppress
from pathlib import Path

from rankfw.core.io import cached_file_digest, file_digest, text_digest

_COMMIT = re.compile(r"[0-9a-f]{40}")
HUB_TIMEOUT_S = 10.0
"""How long asking the hub for a model's current commit may take before the local cache answers."""


def model_identity(ref: str, cache_dir: Path | None = None) -> str:
    """A string that changes exactly when the model's content changes: a local folder as a digest of
    every file's relative path and content (so a retrained or replaced model invalidates caches, and
    a copied one does not); a hub id with the commit it loads (``org/name@<commit>``, pinned or not, see
    :func:`hub_revision`; the bare id when no commit is known). With ``cache_dir`` the file digests
    are memoised there (by path, size and mtime), so a large model is hashed once."""
    folder = Path(ref)
    if not folder.is_dir():
        from rankfw.models.refs import split_hub_ref

        revision = hub_revision(ref)
        return f"{split_hub_ref(ref)[0]}@{revision}" if revision else ref
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = (lambda p: cached_file_digest(p, cache_dir)) if cache_dir is not None else file_digest
    return text_digest(*(f"{p.relative_to(folder)}:{digest(p)}" for p in files))


def hub_revision(ref: str) -> str | None:
    """The commit a hub id loads now, as ``from_pretrained`` would: the hub's current ``main`` (or
    the pinned ``@REVISION``'s branch or tag) when online (``HF_HUB_OFFLINE`` unset and the hub
    answers), else the snapshot the local HuggingFace cache's ref points to; a pinned 40-digit
    commit is itself. ``None`` when nothing knows the id (or it is no hub id). An upstream update of
    a model thus changes the keys of what was made with it; a pinned commit never does."""
    from rankfw.models.refs import is_hub_id, split_hub_ref

    if not is_hub_id(ref):
        return None
    repo, pinned = split_hub_ref(ref)
    if pinned is not None and _COMMIT.fullmatch(pinned):
        return pinned
    from huggingface_hub import constants, try_to_load_from_cache

    if not constants.HF_HUB_OFFLINE:
        with suppress(Exception):  # offline, unknown, gated: the local cache decides
            from huggingface_hub import HfApi

            extra = {"revision": pinned} if pinned else {}
            sha = HfApi().model_info(repo, timeout=HUB_TIMEOUT_S, **extra).sha
            if sha:
                return str(sha)
    for name in ("config.json", "modules.json"):
        with suppress(Exception):
            path = try_to_load_from_cache(repo, name, revision=pinned)
            if isinstance(path, str):
                return Path(path).parent.name  # snapshots/<commit>/<file>
    return None
