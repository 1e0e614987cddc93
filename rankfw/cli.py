"""The ``rankfw`` command line: run, validate, plugins list, components show, eval, compare.

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


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values as one list."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


_FORCE_ALL = "\0all"


def _run_options(func: F) -> F:
    """The options shared by ``run`` and ``plan``: what to run, where, on which topics."""
    options = [
        click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: the spec's output)."),
        _set_option,
        click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache folder (default $RANKFW_CACHE or ~/.cache/rankfw)."),
        click.option("--only", multiple=True, metavar="STAGE[,STAGE]", help="Run only these stages (their missing inputs first)."),
        click.option("--until", metavar="STAGE", help="Run every stage up to STAGE (in order), no further."),
        click.option("--force", "force", multiple=True, is_flag=False, flag_value=_FORCE_ALL, metavar="[STAGE[,STAGE]]",
                     help="Recompute these stages and what depends on them; alone: recompute every stage."),
        click.option("--limit", type=click.IntRange(min=1), help="Only the first N topics of each language's topic set."),
        click.option("--languages", metavar="xx,yy", help="Only these of the spec's languages."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _runner_args(spec: Path | None, force: tuple[str, ...], only: tuple[str, ...], until: str | None,
                 limit: int | None, languages: str | None) -> tuple[Path, dict[str, Any]]:
    """The spec path and the Runner's keyword arguments from the shared options (a spec file given
    right after a bare ``--force`` is the spec, not a stage name)."""
    values = [v for v in force if v != _FORCE_ALL]
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
        "force_stages": _split(tuple(values)) or None,
        "only": _split(only) or None,
        "until": until,
        "limit": limit,
        "languages": _split((languages,)) if languages else None,
    }


def _quiet_libraries() -> None:
    """Silence the progress bars of transformers / sentence-transformers / huggingface_hub / tqdm
    ("Loading weights", "Writing model shards"): rankfw shows its own."""
    for name, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TQDM_DISABLE", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")):
        os.environ.setdefault(name, value)
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path), required=False)
@_run_options
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

    _quiet_libraries()
    spec, kwargs = _runner_args(spec, force, only, until, limit, languages)
    extra = list(overrides)
    if executor:
        extra.append(f"executor.kind={executor}")
    if ray_address:
        extra.append(f"executor.address={ray_address}")
    pipeline = load_spec(spec, default_registry(), extra)
    if dry_run:
        _print_plan(Runner(pipeline, output_dir=out, cache_dir=cache, **kwargs))
        return
    runner_executor = _make_executor(pipeline.spec.executor)

    def log(message: str) -> None:
        warning = message.startswith("warning:")
        if warning or (not quiet and (verbose or ": recomputing: " not in message)):
            err_console.print(escape(message), highlight=False, soft_wrap=True, style="yellow" if warning else None)

    with RichProgress(err_console, enabled=not quiet) as progress:
        runner = Runner(pipeline, output_dir=out, cache_dir=cache, progress=progress, log=log, executor=runner_executor,
                        **kwargs)
        result = runner.run()
    _print_metrics(result.metrics)
    click.echo(f"outputs in {result.output_dir}")


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path), required=False)
@_run_options
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

    spec, kwargs = _runner_args(spec, force, only, until, limit, languages)
    runner = Runner(load_spec(spec, default_registry(), overrides), output_dir=out, cache_dir=cache, **kwargs)
    if as_json:
        runner.check_files()
        click.echo(json.dumps([asdict(p) for p in runner.plan()], indent=2))
        return
    _print_plan(runner)


def _print_plan(runner: Any) -> None:
    from rankfw.run.plan import format_plan

    runner.check_files()
    for line in format_plan(runner.plan()):
        click.echo(line)


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
    from rankfw.core.runs import Run
    from rankfw.data import read_qrels, read_topics
    from rankfw.run.evaluate import DEFAULT_METRICS, evaluate_full, judged_qids, parse_measures

    names = list(measures) or list(DEFAULT_METRICS)
    parse_measures(names)
    if run_file.is_dir():  # an output folder: every stage, with the topics and qrels of its spec.yaml
        from rankfw.run.metrics import folder_metrics

        metrics = folder_metrics(run_file, names, lambda m: err_console.print(escape(m), highlight=False, soft_wrap=True))
        if as_json:
            click.echo(json.dumps(metrics if per_query else {k: metrics[k] for k in ("measures", "stages", "queries")}, indent=2))
        else:
            _print_metrics(metrics)
        return
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
        data: dict[str, Any] = dict(result.means)
        if per_query:
            data = {"mean": result.means, "per_query": result.per_query}
        click.echo(json.dumps(data, indent=2))
        return
    if per_query:  # trec_eval -q's layout: measure, qid (or "all"), value
        for name in names:
            for qid, value in sorted(result.per_query[name].items()):
                click.echo(f"{name}\t{qid}\t{value:.4f}")
            click.echo(f"{name}\tall\t{result.means[name]:.4f}")
        return
    for name, value in result.means.items():
        click.echo(f"{name}\t{value:.4f}")


if __name__ == "__main__":
    main()
