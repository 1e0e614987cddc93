"""Checks at the boundaries of a run: what a component returns, and the output folder's shape.

rankfw writes only TREC files that its own reader accepts, so a component's run is checked when
it is returned (finite scores, query and document ids without whitespace) and a bad one fails the
stage that produced it, by name, before anything is written. Folders that rankfw writes into
inside the output folder must be real folders: a symbolic link there would make a write, or the
removal of an old model, happen outside the output folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from rankfw.core.columns import first_repeated_hit
from rankfw.core.errors import InputError, StageError
from rankfw.core.runs import Run


def check_run(stage: str, run: Run, language: str | None = None) -> Run:
    """``run`` in the form its TREC file reads back as (:meth:`Run.canonical`); raises
    :class:`StageError` naming ``stage`` if it could not be written and read back.

    The checks work on the run's columns (one numpy pass over the hits, each distinct docid
    looked at once), so a run of millions of hits is checked without a Python loop per hit."""
    import numpy as np

    lang = f"[{language}] " if language else ""
    columns = run.columns()
    for qid in columns.qids:
        if not isinstance(qid, str) or not qid or _has_space(qid):
            raise StageError(stage, f"{lang}query id {qid!r} is empty or contains whitespace (not representable in a TREC run)")
    if not columns.n_hits():
        return run.canonical()
    of_hit = np.repeat(np.arange(len(columns.qids)), columns.lengths)
    used = np.unique(columns.codes)
    bad = [int(c) for c, docid in zip(used.tolist(), columns.names[used].tolist(), strict=True)
           if not isinstance(docid, str) or not docid or _has_space(docid)]
    if bad:
        first = int(np.nonzero(np.isin(columns.codes, bad))[0][0])
        raise StageError(stage, f"{lang}query {columns.qids[of_hit[first]]!r}: document id "
                                f"{columns.names[columns.codes[first]]!r} is empty or contains whitespace")
    infinite = np.nonzero(~np.isfinite(columns.scores))[0]
    if len(infinite):
        first = int(infinite[0])
        raise StageError(stage, f"{lang}query {columns.qids[of_hit[first]]!r}: document "
                                f"{columns.names[columns.codes[first]]!r} has a score that is not finite "
                                f"({float(columns.scores[first])!r})")
    first = first_repeated_hit(of_hit, columns.codes, len(columns.names))
    if first is not None:
        raise StageError(stage, f"{lang}query {columns.qids[of_hit[first]]!r}: document "
                                f"{columns.names[columns.codes[first]]!r} is ranked twice")
    return run.canonical()


_SPACE = re.compile(r"\s")


def _has_space(text: str) -> bool:
    return _SPACE.search(text) is not None


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
