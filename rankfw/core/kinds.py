"""The kind table: the one place that lists the component kinds and what each one means.

The spec (``kind:`` of a stage and its inputs), the registry (which hook registers which base
class), the CLI (``plugins list``, ``components show --kind``) and both executors (which method a
stage calls, with what) all read this table; a fifth kind is one more row here, a hook in
:mod:`rankfw.core.hookspecs` and its base class in :mod:`rankfw.core.components`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from rankfw.core.components import Component, Fuser, Reranker, Retriever, Trainer


@dataclass(frozen=True)
class Kind:
    """One kind of component and the stage that uses it."""

    spec: str
    """The stage's ``kind:`` in a spec (``retrieve``)."""
    component: str
    """The component kind, as the registry and the CLI name it (``retriever``)."""
    hook: str
    """The hook a plugin implements to register components of this kind."""
    base: type[Component]
    """The class those components subclass."""
    method: str
    """The method of ``base`` (and of an executor) that the stage calls."""
    passes: tuple[str, ...]
    """What the stage passes that method (its parameter names, besides ``ctx``)."""
    min_inputs: int
    """The fewest input stages (``inputs:``) a stage of this kind takes."""
    max_inputs: int | None
    """The most input stages (``None``: any number)."""
    produces_run: bool
    """Whether the method returns a :class:`rankfw.core.Run` (else it writes a model folder)."""


KINDS: tuple[Kind, ...] = (
    Kind("retrieve", "retriever", "register_retrievers", Retriever, "retrieve", ("topics", "corpus"), 0, 0, True),
    Kind("rerank", "reranker", "register_rerankers", Reranker, "rerank", ("topics", "run", "corpus"), 1, 1, True),
    Kind("train", "trainer", "register_trainers", Trainer, "train", ("inputs", "output_dir"), 0, None, False),
    Kind("fuse", "fuser", "register_fusers", Fuser, "fuse", ("runs",), 1, None, True),
)

SpecKind = Literal["retrieve", "rerank", "train", "fuse"]
"""A stage's ``kind:`` (the ``spec`` column, spelt out for type checkers)."""

BY_SPEC: dict[str, Kind] = {k.spec: k for k in KINDS}
BY_COMPONENT: dict[str, Kind] = {k.component: k for k in KINDS}
SPEC_KINDS: tuple[str, ...] = tuple(BY_SPEC)
COMPONENT_KINDS: tuple[str, ...] = tuple(BY_COMPONENT)
KIND_TO_COMPONENT: dict[str, str] = {k.spec: k.component for k in KINDS}
HOOKS: dict[str, str] = {k.component: k.hook for k in KINDS}
"""Component kind -> the hook that registers it."""
BASES: dict[str, type[Component]] = {k.component: k.base for k in KINDS}
"""Component kind -> the base class its components must subclass."""

if set(get_args(SpecKind)) != set(SPEC_KINDS):  # pragma: no cover - a row added without its name
    raise RuntimeError(f"SpecKind {get_args(SpecKind)} does not match the kind table {SPEC_KINDS}")


def kind_of(name: str) -> Kind:
    """The row for a spec kind (``rerank``) or a component kind (``reranker``)."""
    found = BY_SPEC.get(name) or BY_COMPONENT.get(name)
    if found is None:
        raise KeyError(f"unknown kind {name!r} (kinds: {', '.join(SPEC_KINDS)})")
    return found


def inputs_error(kind: str, n_inputs: int) -> str | None:
    """Why a stage of ``kind`` cannot take ``n_inputs`` input stages (``None`` when it can)."""
    row = kind_of(kind)
    if row.max_inputs == 0 and n_inputs:
        return f"a {row.spec} stage takes no inputs"
    if row.min_inputs == row.max_inputs and n_inputs != row.min_inputs:
        return f"a {row.spec} stage takes exactly {_stages(row.min_inputs)}, got {n_inputs}"
    if n_inputs < row.min_inputs:
        return f"a {row.spec} stage needs at least {_stages(row.min_inputs)}"
    if row.max_inputs is not None and n_inputs > row.max_inputs:
        return f"a {row.spec} stage takes at most {_stages(row.max_inputs)}, got {n_inputs}"
    return None


def _stages(n: int) -> str:
    return "one input stage" if n == 1 else f"{n} input stages"
