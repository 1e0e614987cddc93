"""The command line's run controls (shared by ``rankfw run`` and ``rankfw plan``) and the work of
``rankfw plan`` and ``rankfw eval``; cheap to import (click only)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rankfw.core.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])
FORCE_ALL = "\0all"

set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a spec value, e.g. --set stages.bm25.params.k=200 or --set dataset.root=DIR.",
)


def split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values as one list."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def run_options(func: F) -> F:
    """The options shared by ``run`` and ``plan``: what to run, where, on which topics."""
    options = [
        click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the spec's output)."),
        set_option,
        click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache folder (default $RANKFW_CACHE or ~/.cache/rankfw)."),
        click.option("--only", multiple=True, metavar="STAGE[,STAGE]", help="Run only these stages (their missing inputs first)."),
        click.option("--until", metavar="STAGE", help="Run every stage up to STAGE (in order), no further."),
        click.option("--force", "force", multiple=True, is_flag=False, flag_value=FORCE_ALL, metavar="[STAGE[,STAGE]]",
                     help="Recompute these stages and what depends on them; alone: recompute every stage."),
        click.option("--limit", type=click.IntRange(min=1), help="Only the first N topics of each language's topic set."),
        click.option("--languages", metavar="xx,yy", help="Only these of the spec's languages."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def runner_args(spec: Path | None, force: tuple[str, ...], only: tuple[str, ...], until: str | None,
                limit: int | None, languages: str | None) -> tuple[Path, dict[str, Any]]:
    """The spec path and the Runner's keyword arguments from the shared options (a spec file given
    right after a bare ``--force`` is the spec, not a stage name)."""
    values = [v for v in force if v != FORCE_ALL]
    everything = len(values) < len(force)
    if spec is None:
        files = [v for v in values if Path(v).is_file()]
        if not files:
            raise click.UsageError("Missing argument 'SPEC'.")
        spec = Path(files[0])
        values.remove(files[0])
        everything = everything or not values
    return spec, {
        "force": everything,
        "force_stages": split(tuple(values)) or None,
        "only": split(only) or None,
        "until": until,
        "limit": limit,
        "languages": split((languages,)) if languages else None,
    }


def quiet_libraries() -> None:
    """Silence the progress bars of transformers / sentence-transformers / huggingface_hub / tqdm
    ("Loading weights", "Writing model shards"): rankfw shows its own."""
    for name, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TQDM_DISABLE", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")):
        os.environ.setdefault(name, value)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def print_plan(runner: Any) -> None:
    """Print the runner's plan (``rankfw plan`` / ``rankfw run --dry-run``)."""
    from rankfw.run.plan import format_plan

    runner.check_files()
    for line in format_plan(runner.plan()):
        click.echo(line)


def eval_folder(folder: Path, measures: list[str], per_query: bool, err_console: Any) -> dict[str, Any]:
    """``rankfw eval OUT``: every stage of an output folder (per-query values with ``per_query``)."""
    from rich.markup import escape

    from rankfw.run.evaluate import DEFAULT_METRICS, parse_measures
    from rankfw.run.metrics import folder_metrics

    names = measures or list(DEFAULT_METRICS)
    parse_measures(names)
    metrics = folder_metrics(folder, names, lambda m: err_console.print(escape(m), highlight=False, soft_wrap=True))
    return metrics if per_query else {k: metrics[k] for k in ("measures", "stages", "queries")}


def eval_run(run_file: Path, qrels_file: str | None, measures: list[str], topics_file: str | None, per_query: bool,
             as_json: bool, err_console: Any) -> list[str]:
    """``rankfw eval RUN QRELS``: the lines to print; counts and warnings go to ``err_console``."""
    from rich.markup import escape

    from rankfw.core.runs import Run
    from rankfw.data import read_qrels, read_topics
    from rankfw.run.evaluate import DEFAULT_METRICS, evaluate_full, judged_qids, parse_measures

    names = measures or list(DEFAULT_METRICS)
    parse_measures(names)
    if qrels_file is None:
        raise InputError("a run file needs QRELS (a qrels file or an irds: id)", str(run_file))
    run = Run.read_trec(run_file)
    qrels = read_qrels(qrels_file)
    topics = list(read_topics(topics_file)) if topics_file else None
    asked = set(topics) if topics is not None else set(run)
    if not asked & judged_qids(qrels):
        what = "the topics" if topics_file else "the run"
        raise InputError(f"{what} and the qrels share no judged query id ({len(asked)} asked, "
                         f"{len(judged_qids(qrels))} judged in {qrels_file})", str(topics_file or run_file))
    result = evaluate_full(run, qrels, names, topics=topics)
    err_console.print(f"scored {result.judged} judged queries of {result.asked} asked; "
                      f"{result.missing} judged queries not found in the run (counted 0)", highlight=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if as_json:
        data: dict[str, Any] = {"mean": result.means, "per_query": result.per_query} if per_query else dict(result.means)
        return [json.dumps(data, indent=2)]
    if per_query:  # trec_eval -q's layout: measure, qid (or "all"), value
        lines = []
        for name in names:
            lines += [f"{name}\t{qid}\t{value:.4f}" for qid, value in sorted(result.per_query[name].items())]
            lines.append(f"{name}\tall\t{result.means[name]:.4f}")
        return lines
    return [f"{name}\t{value:.4f}" for name, value in result.means.items()]


def run_log(err_console: Any, quiet: bool, verbose: bool) -> Callable[[str], None]:
    """The runner's log on stderr: warnings always; stage lines unless ``quiet``; why each unit is
    recomputed only when ``verbose``."""
    from rich.markup import escape

    def log(message: str) -> None:
        warning = message.startswith("warning:")
        if warning or (not quiet and (verbose or ": recomputing: " not in message)):
            err_console.print(escape(message), highlight=False, soft_wrap=True, style="yellow" if warning else None)

    return log


def make_executor(spec: Any) -> Any:
    """The executor the spec names (None: the local one)."""
    if spec.kind == "local":
        return None
    try:
        from rankfw.executors.ray import RayExecutor
    except ImportError:
        raise InputError("the ray executor needs Ray: pip install 'rankfw[ray]'", "executor.kind") from None
    return RayExecutor(address=spec.address, num_workers=spec.num_workers, gpus_per_worker=spec.gpus_per_worker)



def print_metrics(console: Any, metrics: dict[str, Any]) -> None:
    """The metrics as one table per measure (stages x languages and the mean)."""
    from rich.table import Table

    stages = metrics.get("stages", {})
    if not stages:
        console.print("no qrels: nothing to evaluate")
        return
    languages = list(dict.fromkeys(lang for s in stages.values() for lang in s["languages"]))
    for measure in metrics["measures"]:
        table = Table(title=measure, title_justify="left")
        table.add_column("stage")
        for lang in languages:
            table.add_column(lang, justify="right")
        table.add_column("mean", justify="right", style="bold")
        for name, values in stages.items():
            cells = [f"{values['languages'][lang][measure]:.4f}" if lang in values["languages"] else "" for lang in languages]
            table.add_row(name, *cells, f"{values['mean'][measure]:.4f}")
        console.print(table)
