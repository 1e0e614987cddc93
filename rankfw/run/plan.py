"""What a run would do: which stages it touches (``--only``, ``--until``) and, for every unit,
whether it is cached or to compute and why (``rankfw plan``, ``rankfw run --dry-run``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rankfw.core.errors import InputError
from rankfw.spec import Pipeline


@dataclass(frozen=True)
class UnitPlan:
    """One unit of the plan: ``status`` is ``cached`` or ``to compute``; ``reason`` says why;
    ``estimate_s`` is the seconds it took last time it was computed (None when unknown);
    ``conditional`` that it is recomputed only if an input still to compute comes out different."""

    stage: str
    unit: str
    status: str
    reason: str
    estimate_s: float | None = None
    conditional: bool = False


@dataclass(frozen=True)
class Selection:
    """The stages a run touches, in order, and those it must recompute whatever their records say."""

    stages: list[str]
    forced: dict[str, str]
    """stage -> why it is forced"""


def select(pipeline: Pipeline, only: Sequence[str] | None = None, until: str | None = None,
           force: bool = False, force_stages: Sequence[str] | None = None) -> Selection:
    """The stages to run: ``only`` those (and the inputs they need), ``until`` a stage (every stage
    up to it in order), all by default; ``force`` recomputes the chosen stages, ``force_stages``
    those stages and every stage that depends on them."""
    order = pipeline.order
    for name, where in [*((n, "--only") for n in only or []), *((n, "--force") for n in force_stages or []),
                        *([(until, "--until")] if until else [])]:
        if name not in pipeline.stages:
            raise InputError(f"unknown stage {name!r} (stages: {', '.join(order)})", where)
    targets = set(order)
    if until:
        targets &= set(order[: order.index(until) + 1])
    if only:
        targets &= set(only)
    needed = set(targets)
    for name in targets:
        needed |= ancestors(pipeline, name)
    forced: dict[str, str] = {}
    if force:
        forced.update({name: "forced (--force)" for name in targets})
    for name in force_stages or []:
        forced.setdefault(name, f"forced (--force {name})")
        for child in descendants(pipeline, name):
            forced.setdefault(child, f"forced: depends on {name} (--force {name})")
    return Selection([n for n in order if n in needed], {n: why for n, why in forced.items() if n in needed})


def ancestors(pipeline: Pipeline, name: str) -> set[str]:
    """Every stage that ``name`` reads from, directly or not."""
    out: set[str] = set()
    todo = list(pipeline.stages[name].dependencies)
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(pipeline.stages[dep].dependencies)
    return out


def descendants(pipeline: Pipeline, name: str) -> set[str]:
    """Every stage that reads from ``name``, directly or not."""
    return {n for n in pipeline.stages if name in ancestors(pipeline, n)}


def format_plan(plans: Sequence[UnitPlan]) -> list[str]:
    """The plan as aligned text lines, with a summary line at the end."""
    width = max((len(f"{p.stage} [{p.unit}]") for p in plans), default=0)
    lines = []
    for p in plans:
        estimate = f" (~{_duration(p.estimate_s)})" if p.status == "to compute" and p.estimate_s is not None else ""
        lines.append(f"{f'{p.stage} [{p.unit}]':<{width}}  {p.status:<10}  {p.reason}{estimate}")
    todo = [p for p in plans if p.status == "to compute"]
    known = [p.estimate_s for p in todo if p.estimate_s is not None]
    maybe = sum(p.conditional for p in todo)
    only_if = f" ({maybe} of them only if an input comes out different)" if maybe else ""
    total = ""
    if known:
        sure = sum(p.estimate_s for p in todo if p.estimate_s is not None and not p.conditional)
        total = f", about {_duration(sure)} to {_duration(sum(known))}" if maybe else f", about {_duration(sum(known))}"
        total += " (some units have no timing yet)" if len(known) < len(todo) else ""
    lines.append(f"{len(plans) - len(todo)} units cached, {len(todo)} to compute{only_if}{total}")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f} min"
