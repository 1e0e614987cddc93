"""The ``rankfw`` command line: run, validate, plugins list, components show, eval, compare, search, serve.

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
from rankfw.core.errors import InputError, RankfwError, StageError

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
@_handle_errors
def validate(spec: Path, overrides: tuple[str, ...]) -> None:
    """Check SPEC without running it: syntax, components, params, inputs, cycles, data files."""
    from rankfw.core.registry import default_registry
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    pipeline = load_spec(spec, default_registry(), overrides)
    Runner(pipeline).check_files()
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


@main.group()
def components() -> None:
    """Look at one component."""


@components.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(["retriever", "reranker", "trainer", "fuser"]), help="When several kinds share the name.")
@_handle_errors
def components_show(name: str, kind: str | None) -> None:
    """The component NAME: description, citation, its Config as JSON schema and its defaults."""
    from rankfw.core.registry import default_registry

    registry = default_registry()
    found = [i for i in registry.find(name) if kind is None or i.kind == kind]
    if not found:
        import difflib

        names = sorted({n for _, n in registry.components})
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"no component {name!r}{hint} (installed: {', '.join(names) or 'none'})", "components show")
    out = [
        {**info.as_dict(), "config_schema": info.config_class.model_json_schema(), "defaults": info.defaults()}
        for info in found
    ]
    click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2, default=str))


# --- evaluation -------------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--qrels", "qrels_source", help="Qrels for run files (file or irds: id); output folders use their spec's.")
@click.option("--language", help="Language of the run files (default 'all').")
@click.option("-m", "--measure", "measures", multiple=True, help="ir_measures name (repeatable); default nDCG@10 and R@100.")
@click.option("--baseline", help="System to test against (default: the first).")
@click.option("--test", type=click.Choice(["randomization", "t-test"]), default="randomization", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--markdown", is_flag=True, help="Print markdown tables (for a README or a paper).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), help="Write a per-language bar chart.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML report.")
@_handle_errors
def compare(paths: tuple[Path, ...], qrels_source: str | None, language: str | None, measures: tuple[str, ...],
            baseline: str | None, test: str, alpha: float, as_json: bool, markdown: bool, png: Path | None,
            html_path: Path | None) -> None:
    """Compare systems (TREC run files or 'rankfw run' output folders) per language, with paired
    significance tests against a baseline and Holm-Bonferroni correction."""
    from rankfw.data import read_qrels
    from rankfw.run.compare import compare as compare_systems
    from rankfw.run.compare import qrels_from_output, systems_from_paths
    from rankfw.run.evaluate import DEFAULT_METRICS, parse_measures

    names = list(measures) or list(DEFAULT_METRICS)
    parse_measures(names)
    systems = systems_from_paths(list(paths), language)
    languages = sorted({lang for s in systems for lang in s.runs})
    if qrels_source:
        qrels = {lang: read_qrels(qrels_source) for lang in languages}
    else:
        folder = next((p for p in paths if p.is_dir()), None)
        if folder is None:
            raise InputError("run files need --qrels", "compare")
        qrels = qrels_from_output(folder, languages)
    result = compare_systems(systems, qrels, names, baseline, test, alpha)  # type: ignore[arg-type]
    if png:
        from rankfw.run.report import write_png

        write_png(result, png)
    if html_path:
        from rankfw.run.report import write_html

        write_html(result, html_path)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    title = "{measure} (+/-: significant vs {baseline}, {test}, Holm, alpha={alpha})"
    if markdown:
        for measure in names:
            click.echo(f"{title.format(measure=measure, baseline=result.baseline, test=test, alpha=alpha)}\n")
            click.echo(result.markdown(measure) + "\n")
        return
    for measure in names:
        table = Table(title=title.format(measure=measure, baseline=result.baseline, test=test, alpha=alpha),
                      title_justify="left")
        table.add_column("system")
        for lang in [*result.languages, "mean"]:
            table.add_column(lang, justify="right")
        for system, values in result.values.items():
            cells = [f"{values[lang][measure]:.4f}{result.mark(system, lang, measure)}" for lang in result.languages]
            table.add_row(system, *cells, f"{values['mean'][measure]:.4f}")
        console.print(table)



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
    values = evaluate(Run.read_trec(run_file), read_qrels(qrels_file), names)
    if as_json:
        click.echo(json.dumps(values, indent=2))
    else:
        for name, value in values.items():
            click.echo(f"{name}\t{value:.4f}")


from rankfw.search.commands import search, serve  # defined there; they use the helpers above

main.add_command(search)
main.add_command(serve)

if __name__ == "__main__":
    main()
