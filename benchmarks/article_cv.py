"""Article-level cross-validation table of a spec's held-out stages, with leave-one-fold-out fusion.

    for i in 0 1 2 3 4; do rankfw run examples/xquad.yaml --set dataset.holdout_fold=$i --out runs/cv$i; done
    python benchmarks/article_cv.py 0=runs/cv0 1=runs/cv1 2=runs/cv2 3=runs/cv3 4=runs/cv4 \
        [--stages bm25_ho e5_ho bi_ho dense_ho ce_ho] [--step 0.1] [--norm min-max] [--depth N]
        [--must-beat bm25_ho] [--context 'docid:^(xq-\\d+-\\d+)-' [--context-weights 0.3 0.5 0.7]]
        [--json out.json]

Each ``NAME=FOLDER`` is a finished run of one fold (its ``spec.yaml`` says which questions it held
out). Per fold and language: nDCG@10 of every ``--stages`` run on that fold's held-out questions (a
question a run has no hits for counts 0, whichever other stages are listed), and of their weighted fusion whose weights are tuned, as
the ``fusion-weights`` trainer tunes them (``--norm`` scores, min-max unless told; the simplex grid
of ``--step``; the mean over languages; ties to the most uniform), on the *other* folds' held-out
runs and questions: no fold's questions choose the weights they are scored with. With ``--context
GROUP_BY``, each fold's fused run (its leave-one-fold-out weights, every hit) is also re-scored by the
``group-context`` re-ranker at each ``--context-weights`` value (rows ``fused+context W``), and the
row ``fused+context`` takes, per fold, the value that is best on the other folds. Prints a markdown
table per fold and the mean over folds. A model-selection tool: it reads no dev topics.
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rankfw.core import InputError, Run
from rankfw.run.evaluate import evaluate_per_query
from rankfw.run.heldout import heldout_qrels

MEASURE = "nDCG@10"


@lru_cache(maxsize=None)
def stage_runs(folder: Path, stages: tuple[str, ...], lang: str) -> dict[str, Run]:
    """The held-out runs of ``stages`` in one fold's folder for ``lang``, read once (the fusion tables
    and the context rows share them)."""
    return {s: Run.read_trec(folder / "stages" / s / f"{lang}.run") for s in stages}


def fold_tables(folder: Path, stages: list[str], grid: list[tuple[float, ...]],
                config: Any) -> dict[str, dict[tuple, dict[str, float]]]:
    """``language -> weights -> {qid: nDCG@10}`` of the fused held-out runs of one fold's folder,
    fused as the ``fusion-weights`` trainer of ``config`` (a ``FusionWeightsConfig``) fuses them."""
    from rankfw_fusion.tune import FusionWeightsTrainer

    qrels = heldout_qrels(folder)  # every language of the fold's spec
    trainer = FusionWeightsTrainer(config)
    out: dict[str, dict[tuple, dict[str, float]]] = {}
    for lang in qrels:
        runs = SimpleNamespace(runs=stage_runs(folder, tuple(stages), lang))
        blocks: dict[tuple[int, ...], Any] = {}
        out[lang] = {}
        for weights in grid:  # the trainer's own fusion (as the weighted fuser), cut to what @10 sees
            fused = trainer._fused(runs, stages, weights, blocks, 10)  # noqa: SLF001
            out[lang][weights] = evaluate_per_query(fused, qrels[lang], [MEASURE], qrels[lang])[MEASURE]
    return out


def context_tables(folder: Path, stages: list[str], weights: tuple[float, ...], config: Any, group_by: str,
                   values: list[float]) -> dict[float, dict[str, dict[str, float]]]:
    """``context weight -> language -> {qid: nDCG@10}`` of one fold's fused held-out run (``weights``,
    every hit) re-scored by the ``group-context`` re-ranker at each of ``values``."""
    from rankfw.core import StageContext
    from rankfw_fusion.context import GroupContextConfig, GroupContextReranker
    from rankfw_fusion.tune import FusionWeightsTrainer

    qrels = heldout_qrels(folder)
    trainer = FusionWeightsTrainer(config)
    ctx = StageContext("context", None, folder, folder)
    out: dict[float, dict[str, dict[str, float]]] = {v: {} for v in values}
    for lang in qrels:
        runs = SimpleNamespace(runs=stage_runs(folder, tuple(stages), lang))
        fused = trainer._fused(runs, stages, weights, {}, None)  # noqa: SLF001
        for value in values:
            reranker = GroupContextReranker(GroupContextConfig(group_by=group_by, weight=value))
            run = reranker.rerank({}, fused, None, ctx.for_language(lang))  # a docid rule reads no corpus
            out[value][lang] = evaluate_per_query(run, qrels[lang], [MEASURE], qrels[lang])[MEASURE]
    return out


def mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def one_hot(i: int, n: int) -> tuple[float, ...]:
    """The grid point that gives stage ``i`` of ``n`` all the weight (the stage alone)."""
    return tuple(1.0 if j == i else 0.0 for j in range(n))


def tuned_weights(tables: dict[str, dict], folds: list[str], grid: list[tuple[float, ...]],
                  must_beat: int | None = None) -> tuple[float, ...]:
    """The grid point with the best mean over languages of the pooled questions of ``folds``; with
    ``must_beat`` (a stage's index), as ``fusion-weights``' ``must_beat``: a stage that alone is not
    above that stage in some language (on those questions) keeps weight 0."""
    languages = list(tables[folds[0]])

    def pooled(weights: tuple[float, ...], lang: str) -> float:
        return mean(v for f in folds for v in tables[f][lang][weights].values())

    def score(weights: tuple[float, ...]) -> float:
        return mean(pooled(weights, lang) for lang in languages)

    if must_beat is not None:
        n = len(grid[0])
        losers = {i for i in range(n) if i != must_beat
                  and any(pooled(one_hot(i, n), lang) <= pooled(one_hot(must_beat, n), lang) for lang in languages)}
        grid = [w for w in grid if all(w[i] == 0 for i in losers)]
    scores = {w: score(w) for w in grid}
    top = max(scores.values())
    return min((w for w in grid if scores[w] >= top - 1e-12), key=lambda w: sum((x - 1 / len(w)) ** 2 for x in w))


def add_context_rows(rows: dict, weights: dict[str, tuple[float, ...]], folders: dict[str, str], args: Any,
                     config: Any) -> None:
    """Rows ``fused+context W`` (each ``--context-weights`` value) and ``fused+context`` (per fold, the
    value best on the other folds' questions) into ``rows``."""
    tables = {name: context_tables(Path(folders[name]), args.stages, weights[name], config, args.context,
                                   args.context_weights) for name in folders}
    for name, by_value in tables.items():
        for value, per_lang in by_value.items():
            rows.setdefault(f"fused+context {value:g}", {})[name] = {lang: mean(q.values()) for lang, q in per_lang.items()}

    def pooled(value: float, folds: list[str]) -> float:  # mean over languages of the pooled questions
        languages = list(tables[folds[0]][value])
        return mean(mean(v for f in folds for v in tables[f][value][lang].values()) for lang in languages)

    for name in folders:
        others = [f for f in folders if f != name] or [name]
        best = max(args.context_weights, key=lambda v: (pooled(v, others), -v))
        rows.setdefault("fused+context", {})[name] = rows[f"fused+context {best:g}"][name]
        print(f"fold {name}: context weight chosen on the other folds: {best:g}")


def main() -> None:
    """Score every fold, print the tables, write ``--json``."""
    from rankfw_fusion.grid import simplex_grid
    from rankfw_fusion.norms import NORMS
    from rankfw_fusion.tune import FusionWeightsConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folds", nargs="+", help="NAME=FOLDER, one per fold")
    parser.add_argument("--stages", nargs="+", default=["bm25_ho", "e5_ho", "bi_ho", "dense_ho"])
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--norm", default="min-max", choices=list(NORMS), help="score normalisation of the fusion (as fusion-weights' norm)")
    parser.add_argument("--depth", type=int, default=None, help="hits of each run fused (as fusion-weights' depth)")
    parser.add_argument("--must-beat", default=None, help="a stage of --stages: as fusion-weights' must_beat")
    parser.add_argument("--context", default=None, metavar="GROUP_BY",
                        help="also re-score the fused run with group-context (a docid:REGEX rule)")
    parser.add_argument("--context-weights", nargs="+", type=float, default=[0.3, 0.5, 0.7])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if bad := [item for item in args.folds if "=" not in item]:
        parser.error(f"a fold is NAME=FOLDER, not {bad[0]!r}")
    if args.must_beat is not None and args.must_beat not in args.stages:
        parser.error(f"--must-beat must be one of --stages {args.stages}, not {args.must_beat!r}")
    if args.context is not None and not args.context.startswith("docid:"):
        parser.error(f"--context must be a docid:REGEX rule, not {args.context!r}")
    must_beat = None if args.must_beat is None else args.stages.index(args.must_beat)
    folders = dict(item.split("=", 1) for item in args.folds)
    grid = [tuple(round(w, 10) for w in point) for point in simplex_grid(len(args.stages), args.step)]
    config = FusionWeightsConfig(measure=MEASURE, norm=args.norm, depth=args.depth)
    try:
        tables = {name: fold_tables(Path(folder), args.stages, grid, config) for name, folder in folders.items()}
    except InputError as error:  # a missing fold folder or stage run: one line, exit 2
        parser.exit(2, f"article_cv: error: {error}\n")
    names = list(tables)
    languages = list(tables[names[0]])
    rows: dict[str, dict[str, dict[str, float]]] = {}
    weights: dict[str, tuple[float, ...]] = {}
    for name in names:
        for i, stage in enumerate(args.stages):
            alone = one_hot(i, len(args.stages))
            rows.setdefault(stage, {})[name] = {lang: mean(tables[name][lang][alone].values()) for lang in languages}
        others = [f for f in names if f != name] or [name]
        weights[name] = tuned_weights(tables, others, grid, must_beat)
        rows.setdefault("fused", {})[name] = {lang: mean(tables[name][lang][weights[name]].values()) for lang in languages}
    if args.context is not None:
        add_context_rows(rows, weights, folders, args, config)
    print("| fold | stage | " + " | ".join(languages) + " | mean |")
    print("|---" * (len(languages) + 3) + "|")
    averages: dict[str, dict[str, float]] = {}
    for stage, by_fold in rows.items():
        for name, values in by_fold.items():
            print(f"| {name} | {stage} | " + " | ".join(f"{values[lang]:.4f}" for lang in languages)
                  + f" | {mean(values.values()):.4f} |")
        averages[stage] = {lang: mean(by_fold[n][lang] for n in names) for lang in languages}
    for stage, values in averages.items():
        print(f"| mean of {len(names)} | {stage} | " + " | ".join(f"{values[lang]:.4f}" for lang in languages)
              + f" | {mean(values.values()):.4f} |")
    for name in names:
        tuned_on = "the other folds" if len(names) > 1 else "this fold itself (one fold: in-sample, not cross-validated)"
        print(f"fold {name}: fusion weights tuned on {tuned_on} {dict(zip(args.stages, weights[name], strict=True))}")
    if args.json:
        args.json.write_text(json.dumps({"stages": args.stages, "rows": rows, "mean": averages,
                                         "weights": {n: list(w) for n, w in weights.items()}}, indent=1))


if __name__ == "__main__":
    main()
