"""The rankfw plugin API: everything a plugin imports from rankfw (with :mod:`rankfw.models` and
:mod:`rankfw.testing`). Plugins import from here only::

    from rankfw.core import hookimpl, Reranker, ComponentConfig, Run, StageContext

Names are loaded on first use (PEP 562), so ``import rankfw.core`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rankfw._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # the contract: hooks, component kinds and what they receive
    "hookimpl": "rankfw.core.hookspecs",
    "BatchFunction": "rankfw.core.components",
    "Component": "rankfw.core.components",
    "ComponentConfig": "rankfw.core.components",
    "Fuser": "rankfw.core.components",
    "ProgressBar": "rankfw.core.components",
    "Reranker": "rankfw.core.components",
    "Retriever": "rankfw.core.components",
    "StageContext": "rankfw.core.components",
    "Trainer": "rankfw.core.components",
    "TrainingInput": "rankfw.core.components",
    "KINDS": "rankfw.core.kinds",
    "Kind": "rankfw.core.kinds",
    # data types and runs
    "Corpus": "rankfw.core.types",
    "Document": "rankfw.core.types",
    "Qrels": "rankfw.core.types",
    "Topics": "rankfw.core.types",
    "TrainingExample": "rankfw.core.types",
    "Run": "rankfw.core.runs",
    "RunColumns": "rankfw.core.columns",
    # errors
    "InputError": "rankfw.core.errors",
    "RankfwError": "rankfw.core.errors",
    "StageError": "rankfw.core.errors",
    # cache and file helpers
    "atomic_open": "rankfw.core.io",
    "atomic_write_json": "rankfw.core.io",
    "atomic_write_text": "rankfw.core.io",
    "default_cache_dir": "rankfw.core.io",
    "file_digest": "rankfw.core.io",
    "KeyValueStore": "rankfw.core.store",
    "replace_dir": "rankfw.core.io",
    "scratch_dir": "rankfw.core.io",
    "cache_log": "rankfw.core.io",
    "sqlite_damage": "rankfw.core.io",
    "text_digest": "rankfw.core.io",
    # readers a component may need for its own sources
    "JsonlCorpus": "rankfw.data.corpus",
    "open_corpus": "rankfw.data.corpus",
    "is_irds": "rankfw.data.irds",
    "load_irds": "rankfw.data.irds",
    "read_parallel": "rankfw.data.readers",
    "read_qrels": "rankfw.data.readers",
    "read_topics": "rankfw.data.readers",
    "read_training": "rankfw.data.readers",
    # groups of training questions (the syntax of dataset.holdout_group_by)
    "HoldoutRule": "rankfw.data.holdout",
    "check_group_by": "rankfw.data.holdout",
    "docid_group": "rankfw.data.holdout",
    # evaluation, as the pipeline scores runs
    "evaluate": "rankfw.run.evaluate",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("rankfw.core", _EXPORTS, globals())


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from rankfw.core.components import (
        BatchFunction,
        Component,
        ComponentConfig,
        Fuser,
        ProgressBar,
        Reranker,
        Retriever,
        StageContext,
        Trainer,
        TrainingInput,
    )
    from rankfw.core.errors import InputError, RankfwError, StageError
    from rankfw.core.hookspecs import hookimpl
    from rankfw.core.kinds import KINDS, Kind
    from rankfw.core.io import (
        atomic_open,
        atomic_write_json,
        atomic_write_text,
        default_cache_dir,
        file_digest,
        cache_log,
        replace_dir,
        scratch_dir,
        sqlite_damage,
        text_digest,
    )
    from rankfw.core.columns import RunColumns
    from rankfw.core.runs import Run
    from rankfw.core.store import KeyValueStore
    from rankfw.core.types import Corpus, Document, Qrels, Topics, TrainingExample
    from rankfw.data.corpus import JsonlCorpus, open_corpus
    from rankfw.data.holdout import HoldoutRule, check_group_by, docid_group
    from rankfw.data.irds import is_irds, load_irds
    from rankfw.data.readers import read_parallel, read_qrels, read_topics, read_training
    from rankfw.run.evaluate import evaluate
