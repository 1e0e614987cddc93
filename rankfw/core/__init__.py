"""The rankfw core: the plugin contract and everything plugins build on.

Plugins import from here only::

    from rankfw.core import hookimpl, Reranker, ComponentConfig, Run, StageContext
"""

from rankfw.core.components import (
    Component,
    ComponentConfig,
    Fuser,
    Reranker,
    Retriever,
    StageContext,
    Trainer,
    TrainingInput,
)
from rankfw.core.data import Corpus, Document, TrainingExample, Topics, Qrels
from rankfw.core.errors import InputError, RankfwError, StageError
from rankfw.core.hookspecs import hookimpl
from rankfw.core.runs import Run

__all__ = [
    "Component",
    "ComponentConfig",
    "Corpus",
    "Document",
    "Fuser",
    "InputError",
    "Qrels",
    "RankfwError",
    "Reranker",
    "Retriever",
    "Run",
    "StageContext",
    "StageError",
    "Topics",
    "Trainer",
    "TrainingExample",
    "TrainingInput",
    "hookimpl",
]
