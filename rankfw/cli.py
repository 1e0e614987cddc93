"""The ``rankfw`` command line: run, validate, plugins list, components list/show, eval, compare.

Exit codes: 0 ok, 1 a run failed, 2 bad input (spec, files, parameters).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rankfw import __version__
from rankfw.core.errors import InputError, RankfwError, StageError, describe_os_error

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)
console = Console()


def _handle_errors(func: F) -> F:
    """Turn rankfw errors into one line on stderr and the documented exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except StageError as e:
            err_console.print(f"[bold red]run failed:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            if os.environ.get("RANKFW_DEBUG"):
                raise
            sys.exit(1)
        except RankfwError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except OSError as e:  # the environment: a full or read-only disk, a path that is a file, ...
            if os.environ.get("RANKFW_DEBUG"):
                raise
            message, code = describe_os_error(e)
            err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
            sys.exit(code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rankfw")
def main() -> None:
    """rankfw: multilingual passage ranking pipelines built from plugins."""


# --- run / validate ---------------------------------------------------------------------------

_set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE",
    help="Override a spec value, e.g. --set stages.bm25.params.k=200 or --set dataset.root=DIR.",
)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the spec's output).")
@_set_option
@click.option("--force", is_flag=True, help="Recompute every stage, ignoring finished outputs.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache folder (default $RANKFW_CACHE or ~/.cache/rankfw).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None, help="Where batch work runs (default: the spec's executor, local).")
@click.option("--ray-address", default=None, help="Address of a Ray cluster (with --executor ray).")
@_handle_errors
def run(spec: Path, out: Path | None, overrides: tuple[str, ...], force: bool, cache: Path | None,
        executor: str | None, ray_address: str | None) -> None:
    """Run the pipeline SPEC: every stage in order, then print the metrics."""
    from rankfw.core.registry import default_registry
    from rankfw.run.progress import RichProgress
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    extra = list(overrides)
    if executor:
        extra.append(f"executor.kind={executor}")
    if ray_address:
        extra.append(f"executor.address={ray_address}")
    pipeline = load_spec(spec, default_registry(), extra)
    runner_executor = _make_executor(pipeline.spec.executor)
    with RichProgress(err_console) as progress:
        runner = Runner(pipeline, output_dir=out, cache_dir=cache, force=force, progress=progress,
                        log=lambda m: err_console.print(escape(m), highlight=False, soft_wrap=True), executor=runner_executor)
        result = runner.run()
    _print_metrics(result.metrics)
    click.echo(f"outputs in {result.output_dir}")


def _make_executor(spec: Any) -> Any:
    if spec.kind == "local":
        return None
    try:
        from rankfw.executors.ray import RayExecutor
    except ImportError:
        raise InputError("the ray executor needs Ray: pip install 'rankfw[ray]'", "executor.kind") from None
    return RayExecutor(address=spec.address, num_workers=spec.num_workers, gpus_per_worker=spec.gpus_per_worker)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@_set_option
@click.option("--offline", is_flag=True, help="Fail (exit 2) when an irds: dataset or a hub model is not in the local cache.")
@_handle_errors
def validate(spec: Path, overrides: tuple[str, ...], offline: bool) -> None:
    """Check SPEC without running: the spec, the first lines of every data file, the local caches."""
    from rankfw.core.registry import default_registry
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec
    from rankfw.spec.preflight import preflight

    pipeline = load_spec(spec, default_registry(), overrides)
    runner = Runner(pipeline)
    runner.check_files()
    report = preflight(pipeline, {lang: runner.needed_sources(lang) for lang in pipeline.spec.dataset.languages}, offline)
    click.echo("".join(f"  {line}\n" for line in report.lines), nl=False)
    for warning in report.warnings:
        err_console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    order = " -> ".join(pipeline.order)
    click.echo(f"{spec}: ok ({len(pipeline.order)} stages: {order}; {len(pipeline.spec.dataset.languages)} languages)")


def _print_metrics(metrics: dict[str, Any]) -> None:
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


# --- plugins / components ---------------------------------------------------------------------


@main.group()
def plugins() -> None:
    """Installed plugins and their components."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_list(as_json: bool) -> None:
    """Every installed component (kind, name, description, distribution, version) and broken plugins."""
    from rankfw.core.registry import default_registry

    registry = default_registry()
    components = [info.as_dict() for _, info in sorted(registry.components.items())]
    broken = [b.as_dict() for b in [*registry.broken, *registry.conflict_errors()]]
    if as_json:
        click.echo(json.dumps({"components": components, "broken": broken}, indent=2))
        return
    table = Table(title="rankfw components", title_justify="left")
    for column in ("kind", "name", "description", "distribution", "version"):
        table.add_column(column)
    for c in components:
        table.add_row(c["kind"], c["name"], c["description"], c["distribution"], c["version"])
    console.print(table)
    if not components:
        console.print("no components installed: pip install a rankfw plugin (see README)")
    for b in broken:
        err_console.print(f"[bold red]broken plugin[/] {b['plugin']} ({b['distribution']} {b['version']}): {b['error']}",
                          highlight=False)


# --- evaluation -------------------------------------------------------------------------------


@main.command("eval")
@click.argument("run_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("qrels_file", metavar="QRELS")
@click.option("-m", "--measure", "measures", multiple=True, help="ir_measures name (repeatable); default nDCG@10 and R@100.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handle_errors
def eval_command(run_file: Path, qrels_file: str, measures: tuple[str, ...], as_json: bool) -> None:
    """Evaluate a TREC RUN file against QRELS (a TREC qrels file or an irds: id)."""
    from rankfw.core.runs import Run
    from rankfw.data import read_qrels
    from rankfw.run.evaluate import DEFAULT_METRICS, evaluate, parse_measures

    names = list(measures) or list(DEFAULT_METRICS)
    parse_measures(names)
    run, qrels = Run.read_trec(run_file), read_qrels(qrels_file)
    if not any(r > 0 for q in run if q in qrels for r in qrels[q].values()):  # an empty run too: no 0.0000
        raise InputError(f"none of the run's {len(run)} queries has a relevant judgement in {qrels_file}", str(run_file))
    values = evaluate(run, qrels, names)
    if as_json:
        click.echo(json.dumps(values, indent=2))
    else:
        for name, value in values.items():
            click.echo(f"{name}\t{value:.4f}")


from rankfw import cli_compare, cli_components  # noqa: E402,F401  (register `compare`, `components`)

if __name__ == "__main__":
    main()
