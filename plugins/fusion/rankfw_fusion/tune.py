"""The ``fusion-weights`` trainer: grid-search the weights of a weighted fusion on held-out qrels."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from rankfw.core import (
    ComponentConfig,
    InputError,
    Run,
    StageContext,
    Trainer,
    TrainingInput,
)
from rankfw_fusion.base import NormName
from rankfw_fusion.weights_file import TunedWeights

if TYPE_CHECKING:
    import numpy as np

    from rankfw_fusion.block import FusionBlock


NEAR_TIE = 1e-5
"""Relative score difference under which a hit past a measure's cutoff is still handed to the evaluation."""


class FusionWeightsConfig(ComponentConfig):
    """What to maximise, over which grid, with the fusion settings of the later ``weighted`` stage."""

    measure: str = Field("nDCG@10", description="the ir_measures measure maximised (mean over languages)")
    step: float = Field(0.1, gt=0, le=1, description="grid step on the weight simplex (1/step whole)")
    per_language: bool = Field(False, description="also choose weights for each language on its own")
    runs: list[str] | None = Field(
        None, description="names of the input stages searched over (None: all); the others get weight 0"
    )
    norm: NormName = Field("min-max", description="score normalisation, as the weighted stage's")
    depth: int | None = Field(None, gt=0, description="hits of each input run used, as the weighted stage's")
    k: int | None = Field(None, gt=0, description="hits kept in the fused run, as the weighted stage's")
    fill: float | None = Field(None, description="contribution of a missing document (None: 0)")
    must_beat: str | None = Field(
        None, description="an input stage (e.g. BM25's): another run is searched only if it alone beats that run "
                          "in every language on `measure`; the others get weight 0 (weights.json lists where they lost)"
    )

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        import ir_measures

        try:
            ir_measures.parse_measure(value)
        except (ValueError, NameError) as e:
            raise ValueError(f"unknown ir_measures measure {value!r} ({e})") from None
        return value

    @field_validator("step")
    @classmethod
    def _whole_divisions(cls, value: float) -> float:
        divisions = round(1.0 / value)
        if abs(divisions * value - 1.0) > 1e-9:
            raise ValueError(f"1 / step must be a whole number, got {value}")
        return value


class FusionWeightsTrainer(Trainer[FusionWeightsConfig]):
    """Chooses ``weighted`` fusion weights on held-out queries; writes ``weights.json`` and ``grid.tsv``.

    Every point of the simplex grid is scored by fusing the input runs exactly as the ``weighted``
    fuser does and evaluating the fused run as the pipeline does (``rankfw.run.evaluate``,
    ir_measures); the measure is averaged over the languages. Among equal scores the weights
    closest to uniform win (then the first in grid order).
    """

    Config = FusionWeightsConfig
    description = "Grid-searches weighted-fusion weights on held-out qrels for a chosen measure"
    citation = ""

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Search the grid on ``inputs`` (held-out runs and qrels per language); write the result."""
        import ir_measures

        from rankfw.core import evaluate
        from rankfw_fusion.grid import simplex_grid, write_grid

        config = self.config
        names = _run_names(inputs, ctx)
        searched = _searched(names, config.runs, ctx)
        measure = ir_measures.parse_measure(config.measure)
        cutoff = _cutoff(config.k, measure.params.get("cutoff"))
        languages = [inp.language for inp in inputs]
        blocks: list[dict[tuple[int, ...], FusionBlock]] = [{} for _ in inputs]
        excluded: dict[str, dict[str, list[float]]] = {}
        if config.must_beat is not None:
            excluded = self._losers(inputs, names, searched, blocks, cutoff, ctx)
            searched = [i for i in searched if names[i] not in excluded]
            for name, lost in excluded.items():
                where = ", ".join(f"{lang} {own:.4f} <= {base:.4f}" for lang, (own, base) in lost.items())
                ctx.log(f"{ctx.stage}: {name} gets weight 0: not above {config.must_beat} in {where}")
        grid = [_expand(point, searched, len(names)) for point in simplex_grid(len(searched), config.step)]
        table: list[list[float]] = []
        with ctx.progress(f"{ctx.stage}: weight grid", len(grid)) as bar:
            for weights in grid:
                row = []
                for i, inp in enumerate(inputs):
                    run = self._fused(inp, names, weights, blocks[i], cutoff)
                    row.append(evaluate(run, inp.qrels, [config.measure], _asked(inp))[config.measure])
                table.append(row)
                bar.advance(1)
        means = [sum(row) / len(row) for row in table]
        best = _best(grid, means)
        per_language: dict[str, dict[str, Any]] = {}
        if config.per_language:
            for j, language in enumerate(languages):
                chosen = _best(grid, [row[j] for row in table])
                per_language[language] = {"weights": list(grid[chosen]), "score": table[chosen][j]}
        result = TunedWeights(
            weights=list(grid[best]),
            runs=names,
            measure=config.measure,
            score=means[best],
            grid_size=len(grid),
            step=config.step,
            norm=config.norm,
            depth=config.depth,
            per_language=per_language,
            scores_by_language=dict(zip(languages, table[best])),
            must_beat=config.must_beat,
            excluded=excluded,
        )
        result.write(output_dir)
        write_grid(Path(output_dir) / "grid.tsv", names, languages, grid, table)
        ctx.log(f"{ctx.stage}: best {config.measure} {means[best]:.4f} with weights {grid[best]} for {names}")

    def _losers(
        self,
        inputs: Sequence[TrainingInput],
        names: list[str],
        searched: list[int],
        blocks: list[dict[tuple[int, ...], FusionBlock]],
        cutoff: int | None,
        ctx: StageContext,
    ) -> dict[str, dict[str, list[float]]]:
        """``run -> language -> [its measure, the must_beat run's]`` for every searched run that is
        not above the ``must_beat`` run in some language (each scored alone, fused as ``weighted``)."""
        from rankfw.core import evaluate

        config = self.config
        if config.must_beat not in names:
            raise InputError(f"must_beat must name an input stage {names}, got {config.must_beat!r}",
                             f"stages.{ctx.stage}.params.must_beat")
        base = names.index(config.must_beat)

        def alone(i: int, j: int) -> float:
            weights = tuple(1.0 if k == i else 0.0 for k in range(len(names)))
            run = self._fused(inputs[j], names, weights, blocks[j], cutoff)
            return evaluate(run, inputs[j].qrels, [config.measure], _asked(inputs[j]))[config.measure]

        baseline = [alone(base, j) for j in range(len(inputs))]
        losers: dict[str, dict[str, list[float]]] = {}
        for i in searched:
            if i == base:
                continue
            own = [alone(i, j) for j in range(len(inputs))]
            lost = {inp.language: [own[j], baseline[j]] for j, inp in enumerate(inputs) if own[j] <= baseline[j]}
            if lost:
                losers[names[i]] = lost
        return losers

    def _fused(
        self,
        inp: TrainingInput,
        names: list[str],
        weights: tuple[float, ...],
        cache: dict[tuple[int, ...], FusionBlock],
        cutoff: int | None,
    ) -> Run:
        """The weighted fusion of ``inp``'s runs, as the ``weighted`` fuser makes it, cut to what a
        measure with ``cutoff`` can see."""
        import numpy as np

        from rankfw_fusion.block import ranked_order

        config = self.config
        active = tuple(i for i, w in enumerate(weights) if w > 0)
        block = self._block(inp, names, active, cache)
        fill = 0.0 if config.fill is None else config.fill
        scores = np.array([weights[i] for i in active]) @ block.filled(fill)
        order, bounds = ranked_order(block, scores, config.k)
        if cutoff is not None:
            order, bounds = _cut(order, bounds, scores, cutoff)
        docids, values = block.docids[order].tolist(), scores[order].tolist()
        return Run(
            {
                qid: list(zip(docids[bounds[i] : bounds[i + 1]], values[bounds[i] : bounds[i + 1]]))
                for i, qid in enumerate(block.qids)
            }
        )

    def _block(
        self, inp: TrainingInput, names: list[str], active: tuple[int, ...], cache: dict[tuple[int, ...], FusionBlock]
    ) -> FusionBlock:
        """The block of the runs ``active`` (cached; cut from the block of all runs where it can be)."""
        from rankfw_fusion.block import fusion_block

        config = self.config
        if active not in cache:
            everything = tuple(range(len(names)))
            if everything not in cache:
                cache[everything] = fusion_block([inp.runs[n] for n in names], config.norm, config.depth)
            if config.norm == "borda":  # Borda's scores depend on the candidates of the fused runs
                cache[active] = fusion_block([inp.runs[names[i]] for i in active], config.norm, config.depth)
            else:
                cache[active] = cache[everything].select(active)
        return cache[active]


def _cut(order: np.ndarray, bounds: list[int], scores: np.ndarray, cutoff: int) -> tuple[np.ndarray, list[int]]:
    """Each query's first ``cutoff`` hits of ``order`` and any hit nearly tied with the last (as
    trec_eval reorders scores that are equal at its precision, by docid)."""
    import numpy as np

    if not len(order):
        return order, bounds
    ordered = scores[order]
    lengths = np.diff(bounds)
    query = np.repeat(np.arange(len(lengths)), lengths)
    last = np.clip(np.array(bounds[:-1]) + np.minimum(lengths, cutoff) - 1, 0, len(order) - 1)
    threshold = ordered[last]
    keep = ordered >= (threshold - NEAR_TIE * np.maximum(np.abs(threshold), 1.0))[query]
    counts = np.bincount(query[keep], minlength=len(lengths))
    return order[keep], np.concatenate(([0], np.cumsum(counts))).tolist()


def _asked(inp: TrainingInput) -> Collection[str]:
    """The questions a weighting is scored on: the stage's topics (its qrels when it has none), so a
    question no weighted run answers counts 0 for every weighting instead of leaving some means."""
    return inp.topics or inp.qrels


def _cutoff(k: int | None, measure_cutoff: int | None) -> int | None:
    """How many fused hits the measure can see: the run's ``k`` or the measure's ``@cutoff``."""
    cuts = [c for c in (k, measure_cutoff) if c is not None]
    return min(cuts) if cuts else None


def _run_names(inputs: Sequence[TrainingInput], ctx: StageContext) -> list[str]:
    if not inputs:
        raise InputError("fusion-weights needs at least one language's held-out data", f"stages.{ctx.stage}")
    names = list(inputs[0].runs)
    if not names:
        raise InputError("fusion-weights needs the runs to fuse as inputs", f"stages.{ctx.stage}.inputs")
    for inp in inputs:
        if list(inp.runs) != names:
            raise InputError(
                f"language {inp.language!r} has runs {list(inp.runs)}, expected {names}",
                f"stages.{ctx.stage}.inputs",
            )
        if not inp.qrels:
            raise InputError(f"language {inp.language!r} has no qrels to tune on", f"stages.{ctx.stage}.topics")
    return names


def _searched(names: list[str], chosen: list[str] | None, ctx: StageContext) -> list[int]:
    if chosen is None:
        return list(range(len(names)))
    unknown = [n for n in chosen if n not in names]
    if unknown or not chosen:
        raise InputError(f"runs must name input stages {names}, got {chosen}", f"stages.{ctx.stage}.params.runs")
    return [names.index(n) for n in dict.fromkeys(chosen)]


def _expand(point: tuple[float, ...], searched: list[int], n_runs: int) -> tuple[float, ...]:
    weights = [0.0] * n_runs
    for i, w in zip(searched, point):
        weights[i] = w
    return tuple(weights)


def _best(grid: list[tuple[float, ...]], scores: list[float]) -> int:
    """The index of the best score; ties go to the weights closest to uniform, then grid order."""
    top = max(scores)
    tied = [i for i, s in enumerate(scores) if math.isclose(s, top, rel_tol=0, abs_tol=1e-12)]

    def distance(i: int) -> float:
        uniform = 1.0 / len(grid[i])
        return sum((w - uniform) ** 2 for w in grid[i])

    return min(tied, key=lambda i: (distance(i), i))
