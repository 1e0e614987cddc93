"""The ``rankfw`` command line: run, plan, validate, plugins list, components list/show, eval, compare, check, search, serve.

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
from rankfw.cli_options import (
    make_executor,
    print_metrics,
    print_plan,
    quiet_libraries,
    run_log,
    run_options,
    runner_args,
    set_option,
)
from rankfw.core.kinds import COMPONENT_KINDS

F = TypeVar("F", bound=Callable[..., Any])
BATCH_WIDTH = 1000
"""Console width where the output is not a terminal and ``$COLUMNS`` is unset (a batch log, a pipe):
wide enough that a stages x languages table prints whole instead of cells cut to ``0.…``."""


def output_console(stderr: bool = False) -> Console:
    """A rich console for stdout (or stderr): the terminal's width on a terminal, else ``$COLUMNS``,
    else :data:`BATCH_WIDTH`."""
    stream = sys.stderr if stderr else sys.stdout
    on_terminal = hasattr(stream, "isatty") and stream.isatty()
    return Console(stderr=stderr, width=None if on_terminal or os.environ.get("COLUMNS") else BATCH_WIDTH)


err_console = output_console(stderr=True)
console = output_console()


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


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path), required=False)
@run_options
@click.option("--dry-run", is_flag=True, help="Say what would be computed and why (as 'rankfw plan'); write nothing.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default=None, help="Where batch work runs (default: the spec's executor, local).")
@click.option("--ray-address", default=None, help="Address of a Ray cluster (with --executor ray).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors, warnings and the metrics.")
@click.option("-v", "--verbose", is_flag=True, help="Also say why each unit is recomputed.")
@_handle_errors
def run(spec: Path | None, out: Path | None, overrides: tuple[str, ...], cache: Path | None, only: tuple[str, ...],
        until: str | None, force: tuple[str, ...], limit: int | None, languages: str | None, dry_run: bool,
        executor: str | None, ray_address: str | None, quiet: bool, verbose: bool) -> None:
    """Run the pipeline SPEC: every stage in order (or the chosen ones), then print the metrics."""
    from rankfw.core.registry import default_registry
    from rankfw.run.progress import RichProgress
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    quiet_libraries()
    spec, kwargs = runner_args(spec, force, only, until, limit, languages)
    extra = list(overrides)
    if executor:
        extra.append(f"executor.kind={executor}")
    if ray_address:
        extra.append(f"executor.address={ray_address}")
    pipeline = load_spec(spec, default_registry(), extra)
    if dry_run:
        print_plan(Runner(pipeline, output_dir=out, cache_dir=cache, **kwargs))
        return
    runner_executor = make_executor(pipeline.spec.executor)
    with RichProgress(err_console, enabled=not quiet) as progress:
        runner = Runner(pipeline, output_dir=out, cache_dir=cache, progress=progress, executor=runner_executor,
                        log=run_log(err_console, quiet, verbose), **kwargs)
        result = runner.run()
    print_metrics(console, result.metrics)
    click.echo(f"outputs in {result.output_dir}")


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path), required=False)
@run_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handle_errors
def plan(spec: Path | None, out: Path | None, overrides: tuple[str, ...], cache: Path | None, only: tuple[str, ...],
         until: str | None, force: tuple[str, ...], limit: int | None, languages: str | None, as_json: bool) -> None:
    """Say, for every unit of SPEC, whether a run would reuse it (cached) or compute it, and why
    (what changed since the last run: params, code, input, data), with the last run's timings.
    Writes nothing."""
    from dataclasses import asdict

    from rankfw.core.registry import default_registry
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    spec, kwargs = runner_args(spec, force, only, until, limit, languages)
    runner = Runner(load_spec(spec, default_registry(), overrides), output_dir=out, cache_dir=cache, **kwargs)
    if as_json:
        runner.check_files()
        click.echo(json.dumps([asdict(p) for p in runner.plan()], indent=2))
        return
    print_plan(runner)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@set_option
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
    order = {kind: i for i, kind in enumerate(COMPONENT_KINDS)}  # kinds in the kind table's order
    components = [info.as_dict() for _, info in sorted(registry.components.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))]
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


@main.command("check")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.argument("expected", type=click.Path(path_type=Path))
@click.option("--write", is_flag=True, help="Write EXPECTED from OUT_DIR's scores instead of checking them.")
@click.option("--tolerance", type=float, default=0.001, show_default=True, help="With --write: each score's tolerance.")
@click.option("--stage", "stages", multiple=True, help="With --write: only this stage (repeatable).")
@_handle_errors
def check_command(out_dir: Path, expected: Path, write: bool, tolerance: float, stages: tuple[str, ...]) -> None:
    """Check OUT_DIR/metrics.json against the EXPECTED scores file (exit 1 naming what moved)."""
    from rankfw.check import check, write_expected

    if write:
        count = write_expected(out_dir, expected, tolerance, stages)
        click.echo(f"wrote {count} expected scores to {expected}")
        return

    outcomes = check(out_dir, expected)
    moved = [o for o in outcomes if not o.holds]
    for outcome in outcomes:
        click.echo(f"{'ok   ' if outcome.holds else 'MOVED'} {outcome.describe()}")
    if moved:
        err_console.print(f"[bold red]check failed:[/] {len(moved)} of {len(outcomes)} scores moved beyond their "
                          f"tolerance: {', '.join(o.spec.name for o in moved)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    click.echo(f"all {len(outcomes)} expected scores hold")


@main.command("eval")
@click.argument("run_file", metavar="RUN", type=click.Path(path_type=Path))
@click.argument("qrels_file", metavar="[QRELS]", required=False)
@click.option("-m", "--measure", "measures", multiple=True, help="ir_measures name (repeatable); default nDCG@10 and R@100.")
@click.option("--topics", "topics_file", help="The topics the run was made for (TSV or irds: id); default: the run's queries.")
@click.option("--per-query", is_flag=True, help="Also print each judged query's values.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handle_errors
def eval_command(run_file: Path, qrels_file: str | None, measures: tuple[str, ...], topics_file: str | None, per_query: bool,
                 as_json: bool) -> None:
    """Evaluate a TREC RUN file against QRELS (a TREC qrels file or an irds: id), over the judged
    queries among the asked topics (--topics, else the run's queries); an asked judged query the
    run misses counts 0 (trec_eval -c over the asked topics). RUN may be an output folder of
    'rankfw run': every stage is scored with the topics and qrels of its spec.yaml."""
    from rankfw.cli_options import eval_folder, eval_run

    if run_file.is_dir():  # an output folder: every stage, with the topics and qrels of its spec.yaml
        metrics = eval_folder(run_file, list(measures), per_query, err_console)
        if as_json:
            click.echo(json.dumps(metrics, indent=2))
        else:
            print_metrics(console, metrics)
        return
    for line in eval_run(run_file, qrels_file, list(measures), topics_file, per_query, as_json, err_console):
        click.echo(line)


from rankfw import cli_compare, cli_components  # noqa: E402,F401  (register `compare`, `components`)
from rankfw.search.commands import search, serve  # defined there; they use the helpers above

main.add_command(search)
main.add_command(serve)

if __name__ == "__main__":
    main()
