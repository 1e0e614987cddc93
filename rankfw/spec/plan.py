"""Planning a spec: checking the stage graph (inputs, references, topics) and ordering it."""

from __future__ import annotations

import difflib
import graphlib

from rankfw.spec.locate import SpecErrors
from rankfw.spec.model import Stage


def plan_stages(stages: dict[str, Stage], errors: SpecErrors, languages: list[str] | None = None) -> list[str]:
    """Check the stage graph and order it (dependencies first, ties by name)."""
    for name, stage in stages.items():
        if languages is not None:
            _check_languages(name, stages, errors, languages)
        for i, dep in enumerate(stage.spec.inputs):
            if dep not in stages:
                raise errors.error(("stages", name, "inputs", i), f"unknown stage {dep!r}{_suggest(dep, stages)}")
            if not stages[dep].produces_runs:
                raise errors.error(("stages", name, "inputs", i), f"{dep!r} is a train stage: it gives a model, not a run (use it as a param 'stage:{dep}')")
            if stage.produces_runs and stages[dep].spec.topics != stage.spec.topics:
                raise errors.error(("stages", name, "inputs", i), f"{dep!r} runs on topics {stages[dep].spec.topics!r} but this stage on {stage.spec.topics!r}")
        for param, dep in stage.model_refs.items():
            where = ("stages", name, "params", param)
            if dep not in stages:
                raise errors.error(where, f"unknown stage {dep!r}{_suggest(dep, stages)}")
            if stages[dep].produces_runs:
                raise errors.error(where, f"{dep!r} is a {stages[dep].spec.kind} stage; 'stage:NAME' must name a train stage")
    sorter = graphlib.TopologicalSorter({name: stage.dependencies for name, stage in stages.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        cycle = e.args[1]
        raise errors.error(("stages", cycle[0]), "stages depend on each other in a cycle: " + " -> ".join(cycle)) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def _check_languages(name: str, stages: dict[str, Stage], errors: SpecErrors, languages: list[str]) -> None:
    """A stage runs only in languages that its inputs (and per-language models) were made in."""
    stage = stages[name]
    mine = stage.spec.languages or languages
    deps = [(("inputs", i), dep) for i, dep in enumerate(stage.spec.inputs) if dep in stages]
    deps += [(("params", p), dep) for p, dep in stage.model_refs.items()
             if dep in stages and stages[dep].spec.per_language]
    for where, dep in deps:
        theirs = stages[dep].spec.languages or languages
        lacking = [lang for lang in mine if lang not in theirs]
        if lacking:
            raise errors.error(("stages", name, *where), f"{dep!r} does not run in {', '.join(lacking)} (its languages: "
                               f"{', '.join(theirs)}); give this stage 'languages:' within those")


def _suggest(name: str, stages: dict[str, Stage]) -> str:
    close = difflib.get_close_matches(name, list(stages), n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (stages: {', '.join(stages)})"
