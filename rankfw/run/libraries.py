"""The versions of the libraries a component's code imports, part of its code digest: upgrading
transformers, onnxruntime or pyserini recomputes what a component made with the old version, and
only that (a component whose code never imports openvino keeps its key when openvino changes).

The libraries the code imports itself count (``import torch`` inside a function too), and what those
require directly (sentence-transformers -> transformers, which does the tokenizing), not the whole
dependency tree: that would recompute everything whenever any package of the environment moved
(requests, certifi). Standard-library modules belong to no distribution and count not.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from functools import cache
from importlib import metadata
from typing import Any

from rankfw.run.code_closure import Facts

LABEL = "library "
"""How a library's entry is named among a code state's files (``library transformers``)."""


def imported_tops(facts: Iterable[Facts]) -> set[str]:
    """The top-level names of every absolute import in files with these :func:`file_facts`."""
    tops: set[str] = set()
    for fact in facts:
        tops.update(name.split(".")[0] for name in fact.get("import", []))
        tops.update(base.split(".")[0] for level, base, _ in fact.get("from", []) if level == 0 and base)
    return tops


def library_versions(tops: Iterable[str], traced: Iterable[str] = ()) -> dict[str, str]:
    """``library DIST -> version`` of the distributions that provide the top-level modules ``tops``
    and of what they require; for those of ``traced`` (packages whose imports the code closure
    followed itself, such as ``rankfw``) the version only."""
    followed = {_canonical(dist) for top in traced for dist in _providers().get(top, ())}
    direct = {dist for top in set(tops) for dist in _providers().get(top, ())}
    out = _versions({d for d in direct if _canonical(d) not in followed}, set())
    for dist in direct:
        if _canonical(dist) in followed:
            with suppress(metadata.PackageNotFoundError):
                out[f"{LABEL}{_canonical(dist)}"] = metadata.version(dist)
    return dict(sorted(out.items()))


def required_versions(dist: Any) -> dict[str, str]:
    """For an installed wheel: ``library DIST -> version`` of what its ``Requires-Dist`` names
    unconditionally (no extra) and what those require directly, as installed here."""
    mine = {_canonical(dist.metadata["Name"] or "")}
    return _versions({name for name in _requires(dist) if _canonical(name) not in mine}, mine)


def _versions(direct: set[str], mine: set[str]) -> dict[str, str]:
    """The installed version of each of ``direct`` and of what each requires directly."""
    names = set(direct)
    for name in direct:
        with suppress(metadata.PackageNotFoundError):
            names.update(_requires(metadata.distribution(name)))
    out: dict[str, str] = {}
    for name in sorted(names, key=_canonical):
        if _canonical(name) not in mine:
            with suppress(metadata.PackageNotFoundError):
                out[f"{LABEL}{_canonical(name)}"] = metadata.version(name)
    return out


def _requires(dist: Any) -> list[str]:
    """The distributions ``dist`` requires unconditionally (its ``Requires-Dist`` with no extra)."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for line in dist.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return out


@cache
def _providers() -> dict[str, list[str]]:
    """top-level module -> the distributions that install it (read once per process)."""
    return {top: sorted(set(dists)) for top, dists in metadata.packages_distributions().items()}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
