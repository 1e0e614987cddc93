"""Checks at the boundaries of a run: what a component returns, and the output folder's shape.

rankfw writes only TREC files that its own reader accepts, so a component's run is checked when
it is returned (finite scores, query and document ids without whitespace) and a bad one fails the
stage that produced it, by name, before anything is written. Folders that rankfw writes into
inside the output folder must be real folders: a symbolic link there would make a write, or the
removal of an old model, happen outside the output folder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from rankfw.core.errors import InputError, StageError
from rankfw.core.runs import Run


def check_run(stage: str, run: Run, language: str | None = None) -> Run:
    """``run`` in the form its TREC file reads back as (:meth:`Run.canonical`); raises
    :class:`StageError` naming ``stage`` if it could not be written and read back."""
    lang = f"[{language}] " if language else ""
    for qid, hits in run.items():
        if not isinstance(qid, str) or not qid or _has_space(qid):
            raise StageError(stage, f"{lang}query id {qid!r} is empty or contains whitespace (not representable in a TREC run)")
        seen: set[str] = set()
        for docid, score in hits:
            if not isinstance(docid, str) or not docid or _has_space(docid):
                raise StageError(stage, f"{lang}query {qid!r}: document id {docid!r} is empty or contains whitespace")
            if not math.isfinite(score):
                raise StageError(stage, f"{lang}query {qid!r}: document {docid!r} has a score that is not finite ({score!r})")
            if docid in seen:
                raise StageError(stage, f"{lang}query {qid!r}: document {docid!r} is ranked twice")
            seen.add(docid)
    return run.canonical()


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def check_output_folder(out: Path, stages: Iterable[str]) -> None:
    """Raise :class:`InputError` if a folder rankfw writes into under ``out`` is a symbolic link.

    The output folder itself may be a link (a run kept on another disk); what is inside is
    rankfw's own and is never followed.
    """
    folders = [out / "stages"]
    for name in stages:
        stage = out / "stages" / name
        folders += [stage, stage / "done", stage / "work", stage / "model", stage / "models"]
        if (stage / "models").is_dir() and not (stage / "models").is_symlink():
            folders += sorted((stage / "models").iterdir())
    for folder in folders:
        if folder.is_symlink():
            raise InputError("is a symbolic link inside the output folder; rankfw never writes through one "
                             "(remove it; the output folder itself may be a link)", str(folder))
