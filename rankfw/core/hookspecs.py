"""The plugin contract: one pluggy hook per component kind.

A plugin module implements any of these with ``@hookimpl`` and calls ``register(name, cls)`` for
every component it provides; its distribution declares the module as an entry point in the
group ``rankfw``::

    [project.entry-points.rankfw]
    my_plugin = "my_plugin"
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from rankfw.core.components import Fuser, Reranker, Retriever, Trainer

PROJECT = "rankfw"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- first stage ------------------------------------------------------------------------------


@hookspec
def register_retrievers(register: Callable[[str, type[Retriever]], None]) -> None:
    """Register Retriever classes: ``register("bm25", BM25Retriever)``.

    The class subclasses :class:`rankfw.core.Retriever`, implements
    ``retrieve(topics, corpus, ctx) -> Run``, and carries ``Config`` and ``description``.
    """


# --- re-ranking -------------------------------------------------------------------------------


@hookspec
def register_rerankers(register: Callable[[str, type[Reranker]], None]) -> None:
    """Register Reranker classes: ``register("crossencoder", CrossEncoderReranker)``.

    The class subclasses :class:`rankfw.core.Reranker`, implements
    ``rerank(topics, run, corpus, ctx) -> Run``, and carries ``Config`` and ``description``.
    """


# --- training ---------------------------------------------------------------------------------


@hookspec
def register_trainers(register: Callable[[str, type[Trainer]], None]) -> None:
    """Register Trainer classes: ``register("distill", DistillTrainer)``.

    The class subclasses :class:`rankfw.core.Trainer`, implements
    ``train(inputs, output_dir, ctx) -> None`` writing a model folder into ``output_dir``, and
    carries ``Config`` and ``description``.
    """


# --- fusion -----------------------------------------------------------------------------------


@hookspec
def register_fusers(register: Callable[[str, type[Fuser]], None]) -> None:
    """Register Fuser classes: ``register("rrf", RRFFuser)``.

    The class subclasses :class:`rankfw.core.Fuser`, implements ``fuse(runs, ctx) -> Run``, and
    carries ``Config`` and ``description``.
    """
